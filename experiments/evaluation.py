"""Experiment results: resolve the metrics, run one ClickHouse query, apply the statistics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import msgspec

from collector.storage.clickhouse import Client, per_thread
from experiments.analysis import ExperimentResult, analyse
from experiments.analysis_settings import AnalysisSettings
from experiments.comparison import uses_cuped
from experiments.definitions import DefinitionError, ExperimentDefinition
from experiments.metric_catalog import MetricCatalog, UnknownMetric
from experiments.metrics import MetricDefinition, conversion_metric
from experiments.queries import MetricQuery, experiment_sums
from experiments.service import ExperimentService

__all__ = ["Evaluation", "MetricGone", "analyse_experiment", "experiment_metrics"]


class MetricGone(LookupError):
    """An experiment references a metric key that no stored metric definition has any more."""


class Evaluation:
    """Results of stored experiments; each calling thread gets its own ClickHouse client."""

    def __init__(self, connect: Callable[[], Client], experiments: ExperimentService, catalog: MetricCatalog) -> None:
        self._client = per_thread(connect)
        self.experiments = experiments
        self.catalog = catalog

    def check_metrics(self, definition: ExperimentDefinition) -> None:
        """Raise DefinitionError naming `metrics` or `guardrail_metrics` unless every referenced metric is defined."""
        for field, keys in (("metrics", definition.metrics), ("guardrail_metrics", definition.guardrail_metrics)):
            try:
                self.catalog.resolve(keys)
            except UnknownMetric as error:
                raise DefinitionError(field, f"no metric {error.args[0]!r}: PUT /v1/metrics/{{key}} first") from None

    def result(self, key: str, alpha: float | None = None) -> ExperimentResult:
        """Analyse an experiment now; `alpha` overrides the definition's for this read only.

        Raises UnknownExperiment, or MetricGone if a referenced metric is gone.
        """
        definition = self.experiments.get(key)
        try:
            metrics = experiment_metrics(definition, self.catalog.resolve(definition.metrics))
            guardrails = self.catalog.resolve(definition.guardrail_metrics)
        except UnknownMetric as error:
            raise MetricGone(*error.args) from None
        settings = definition.analysis if alpha is None else msgspec.structs.replace(definition.analysis, alpha=alpha)
        return analyse_experiment(self._client(), definition, metrics, settings, guardrails)


def experiment_metrics(
    definition: ExperimentDefinition, referenced: Sequence[MetricDefinition]
) -> list[MetricDefinition]:
    """Primary first: the implicit conversion metric (if any), then the referenced ones."""
    implicit = [conversion_metric(definition.conversion_event, definition.conversion_window_hours)]
    return implicit * bool(definition.conversion_event) + list(referenced)


def analyse_experiment(
    client: Client,
    definition: ExperimentDefinition,
    metrics: Sequence[MetricDefinition],
    settings: AnalysisSettings | None = None,
    guardrails: Sequence[MetricDefinition] = (),
    as_of: datetime | None = None,
) -> ExperimentResult:
    """One query for all metrics and guardrails, then the statistics; `metrics` primary first.

    Only exposures from the start of the current phase count: a new phase reshuffles the
    assignment, so earlier exposures belong to another split. The runtime runs to `as_of`
    (default now).
    """
    settings = settings or definition.analysis
    queries = [
        MetricQuery(
            metric,
            metric.window_hours or definition.conversion_window_hours,
            uses_cuped(metric.kind, settings.cuped),
        )
        for metric in [*metrics, *guardrails]
    ]
    sums = experiment_sums(client, definition.key, queries, settings.cuped_lookback_hours,
                           exposed_since=definition.phase_started_at, unit=definition.unit)
    return analyse(definition, metrics, sums, settings, guardrails, as_of or datetime.now(timezone.utc))

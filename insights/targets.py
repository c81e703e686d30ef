"""Targets a team sets for its customer figures (NPS at least 70, churn at most 5%, ...), one stored
settings document: charts draw each as a reference line. None is built in.

`GET/PUT /v1/settings/targets`; stored as the `targets` document of kind `setting` (each save
a new version). A target names the figure it applies to (`metric`: `nps`, `churn_rate`,
`csat`, `dau`, ... any figure a chart shows under that name), whether it is a floor
(`at_least`) or a ceiling (`at_most`), and its value in the figure's own unit (NPS points,
churn as a fraction).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import msgspec

from collector.documents import decode_document
from collector.storage.clickhouse import Client
from collector.storage.documents import DefinitionStore
from insights.query import InsightError

__all__ = ["Target", "TargetSettings", "TargetStore", "parse_targets"]

_METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")
_KEY = "targets"
MAX_TARGETS = 50


class Target(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`metric` should be `at_least` / `at_most` `value`; `label` is shown on the line (default: derived)."""

    metric: str
    value: float
    direction: Literal["at_least", "at_most"] = "at_least"
    label: str = ""

    @property
    def caption(self) -> str:
        """The reference line's text: the label, else `metric ≥ value` / `metric ≤ value`."""
        return self.label or f"{self.metric} {'≥' if self.direction == 'at_least' else '≤'} {self.value:g}"


class TargetSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every target of the team (none: no reference lines)."""

    targets: list[Target] = []

    def for_metric(self, metric: str) -> list[Target]:
        """The targets of one figure."""
        return [target for target in self.targets if target.metric == metric]


def parse_targets(document: bytes | str) -> TargetSettings:
    """Decode and validate the targets document; raises InsightError naming the field."""
    settings = decode_document(document, TargetSettings, InsightError, "targets")
    if len(settings.targets) > MAX_TARGETS:
        raise InsightError("targets", f"at most {MAX_TARGETS} targets")
    for index, target in enumerate(settings.targets):
        if not _METRIC.fullmatch(target.metric):
            raise InsightError(f"targets[{index}].metric", "a figure's name: lowercase letters, digits, '_' (nps, churn_rate)")
        if len(target.label) > 100:
            raise InsightError(f"targets[{index}].label", "at most 100 characters")
        if target.value != target.value or abs(target.value) > 1e12:
            raise InsightError(f"targets[{index}].value", "a finite number")
    return settings


class TargetStore:
    """The targets document (latest version); safe to share between threads."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._definitions = DefinitionStore(connect, kind="setting")

    def get(self) -> TargetSettings:
        """The stored targets (none stored: no targets)."""
        stored = self._definitions.latest(_KEY)
        return TargetSettings() if stored is None else parse_targets(stored.definition)

    def save(self, settings: TargetSettings) -> int:
        """Store validated targets as the next version; returns that version."""
        return self._definitions.save(_KEY, msgspec.json.encode(settings).decode()).version

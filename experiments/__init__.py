"""Where data is analysed: experiment and metric definitions, SQL that computes sufficient
statistics in ClickHouse (`queries`), pure statistics (`stats`), and results as JSON, a CLI
table (`report`) and an HTML dashboard (`dashboard`).
"""

from experiments.definitions import (
    DefinitionError,
    ExperimentDefinition,
    Variant,
    parse_definition,
)
from experiments.metrics import MetricDefinition, MetricError, parse_metric

__all__ = [
    "DefinitionError",
    "ExperimentDefinition",
    "MetricDefinition",
    "MetricError",
    "Variant",
    "parse_definition",
    "parse_metric",
]

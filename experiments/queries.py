"""Per-variant sufficient statistics computed inside ClickHouse.

Python never loads per-event rows: one query attributes each unit to the variant of its
first exposure, checks for the conversion event inside the window after that exposure,
and returns one row per variant.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.events import EXPOSURE_EVENT
from collector.storage.clickhouse import Client
from experiments.definitions import ExperimentDefinition

__all__ = ["ConversionCounts", "conversion_counts"]

# The unit is the user id, or the anonymous id for events sent before identify.
# A unit seen in more than one variant is set aside (variant = '') and counted.
_CONVERSION_SQL = f"""
SELECT
    if(variations_seen = 1, exposed_variation, '') AS variant,
    count() AS units,
    countIf(converted) AS converters
FROM (
    SELECT
        exposure.unit_id AS unit_id,
        any(exposure.first_variation) AS exposed_variation,
        any(exposure.variations_seen) AS variations_seen,
        max(
            conversion.timestamp >= exposure.first_exposure
            AND conversion.timestamp < exposure.first_exposure + toIntervalSecond({{window_seconds:UInt32}})
        ) AS converted
    FROM (
        SELECT
            if(user_id != '', user_id, anonymous_id) AS unit_id,
            min(timestamp) AS first_exposure,
            argMin(variation_id, timestamp) AS first_variation,
            uniqExact(variation_id) AS variations_seen
        FROM events
        WHERE event = '{EXPOSURE_EVENT}' AND experiment_id = {{experiment_id:String}}
        GROUP BY unit_id
    ) AS exposure
    LEFT JOIN (
        SELECT if(user_id != '', user_id, anonymous_id) AS unit_id, timestamp
        FROM events
        WHERE event = {{conversion_event:String}}
    ) AS conversion ON conversion.unit_id = exposure.unit_id
    GROUP BY exposure.unit_id
)
GROUP BY variant
"""


@dataclass(frozen=True)
class ConversionCounts:
    """Units and converters per variant key, plus units exposed to several variants."""

    units: dict[str, int]
    converters: dict[str, int]
    multiple_exposures: int


def conversion_counts(client: Client, definition: ExperimentDefinition) -> ConversionCounts:
    """Run the conversion query for one experiment; variants never seen have zero counts."""
    rows = client.query(
        _CONVERSION_SQL,
        parameters={
            "experiment_id": definition.key,
            "conversion_event": definition.conversion_event,
            "window_seconds": int(definition.conversion_window_hours * 3600),
        },
    ).result_rows
    by_variant = {variant: (units, converters) for variant, units, converters in rows}
    keys = [variant.key for variant in definition.variants]
    return ConversionCounts(
        units={key: by_variant.get(key, (0, 0))[0] for key in keys},
        converters={key: by_variant.get(key, (0, 0))[1] for key in keys},
        multiple_exposures=by_variant.get("", (0, 0))[0],
    )

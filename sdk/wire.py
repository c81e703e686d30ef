"""The wire vocabulary every Northstar component shares: message kinds, spec event names, limits.

Standard library only. The SDK builds messages with it; the collector validates them and the
analysis reads them with the same names, so a kind, an event name or a limit is defined here
once and imported everywhere else.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "MessageKind", "MESSAGE_KINDS",
    "EXPOSURE_EVENT", "EXPERIMENT_ID", "VARIATION_ID", "GROUP_TYPE", "GROUP_ID", "PERSON_UNITS",
    "exposure_properties", "exposure_sender",
    "SURVEY_EVENT", "SURVEY_ID", "SURVEY_SCORE", "SURVEY_ANSWER", "SURVEY_QUESTION", "survey_properties",
    "POSTHOG_SURVEY_EVENT", "POSTHOG_SURVEY_ID", "POSTHOG_SURVEY_RESPONSE",
    "MAX_EVENT_BYTES", "MAX_BATCH_BYTES", "MAX_ID_LENGTH", "MAX_NAME_LENGTH",
    "DEFAULT_MAX_EVENT_BYTES", "DEFAULT_MAX_BATCH_BYTES",
]

MessageKind = Literal["track", "identify", "page", "screen", "group", "alias"]
"""The six message types of the Segment spec (the `type` field)."""
MESSAGE_KINDS: Final[tuple[MessageKind, ...]] = ("track", "identify", "page", "screen", "group", "alias")

EXPOSURE_EVENT: Final = "Experiment Viewed"
"""Segment's spec event for an experiment exposure; its properties feed the analysis."""
EXPERIMENT_ID: Final = "experiment_id"
"""Property of `EXPOSURE_EVENT`: the experiment key."""
VARIATION_ID: Final = "variation_id"
"""Property of `EXPOSURE_EVENT`: the variant key the unit was assigned."""

SURVEY_EVENT: Final = "Survey Responded"
"""A person answered a survey (an NPS, CSAT or rating score and/or a free-text answer)."""
SURVEY_ID: Final = "survey"
"""Property of `SURVEY_EVENT`: the survey key (`PUT /v1/surveys/{key}` may describe it; it need not)."""
SURVEY_SCORE: Final = "score"
"""Property of `SURVEY_EVENT`: the numeric answer (NPS 0-10, CSAT/rating on the survey's scale)."""
SURVEY_ANSWER: Final = "answer"
"""Property of `SURVEY_EVENT`: the free-text answer."""
SURVEY_QUESTION: Final = "question"
"""Property of `SURVEY_EVENT`: the question as it was asked."""
POSTHOG_SURVEY_EVENT: Final = "survey sent"
"""PostHog's survey event, read like `SURVEY_EVENT`."""
POSTHOG_SURVEY_ID: Final = "$survey_id"
"""Property of `POSTHOG_SURVEY_EVENT`: the survey key."""
POSTHOG_SURVEY_RESPONSE: Final = "$survey_response"
"""Property of `POSTHOG_SURVEY_EVENT`: the answer (a number counts as the score, anything else as text)."""

MAX_EVENT_BYTES: Final = 32 * 1024
"""The collector's limit on one serialised message."""
MAX_BATCH_BYTES: Final = 500 * 1024
"""The collector's limit on one (decompressed) request body."""
MAX_ID_LENGTH: Final = 512
"""Longest user, anonymous, group, previous or message id the collector accepts (characters)."""
MAX_NAME_LENGTH: Final = 512
"""Longest event or page name the collector accepts (characters)."""

DEFAULT_MAX_EVENT_BYTES: Final = 32_000
"""The SDK's default limits: a little under the collector's, so what it sends always fits."""
DEFAULT_MAX_BATCH_BYTES: Final = 500_000


GROUP_TYPE: Final = "group_type"
"""Property of a group-unit experiment's `EXPOSURE_EVENT`: the group type (the experiment's `unit`)."""
GROUP_ID: Final = "group_id"
"""Property of a group-unit experiment's `EXPOSURE_EVENT`: the group exposed."""
PERSON_UNITS: Final = ("user_id", "anonymous_id")
"""Experiment units that are not group types."""


def exposure_properties(experiment_id: str, variation_id: str | None, unit: str = "user_id",
                        unit_id: str = "") -> dict[str, str | None]:
    """The properties of the `EXPOSURE_EVENT` a unit's first assignment logs; a group unit's
    exposure names its group type and group id."""
    properties = {EXPERIMENT_ID: experiment_id, VARIATION_ID: variation_id}
    if unit not in PERSON_UNITS:
        properties |= {GROUP_TYPE: unit, GROUP_ID: unit_id}
    return properties


def exposure_sender(unit: str, unit_id: str, anonymous_id: str | None) -> tuple[str | None, str | None]:
    """(userId, anonymousId) an exposure is sent under.

    A `user_id` unit is sent under its user id (None before login) with the anonymous id
    beside it, so persons link them; an `anonymous_id` unit under its anonymous id only; a
    group unit under the anonymous id given, else the group id as an anonymous id (the group
    itself travels in the properties, never as a user id).
    """
    if unit == "user_id":
        return unit_id or None, anonymous_id or None
    if unit == "anonymous_id":
        return None, unit_id or anonymous_id or None
    return None, anonymous_id or unit_id or None


def survey_properties(survey: str, score: float | None, answer: str | None,
                      question: str | None) -> dict[str, str | float]:
    """The properties of a `SURVEY_EVENT`: the survey key and whichever of score, answer, question are given."""
    found: dict[str, str | float] = {SURVEY_ID: survey}
    for name, value in ((SURVEY_SCORE, score), (SURVEY_ANSWER, answer), (SURVEY_QUESTION, question)):
        if value is not None:
            found[name] = value
    return found

"""What SDKs read from the server: the snapshot of running definitions, and exposures to log.

`SdkSnapshots.current()` is the `{"experiments": [sdk_document, ...]}` body of running
definitions with a strong ETag over its exact bytes, and each definition compiled by the
SDK's own code (`sdk.experiments`), so the server's assignments are the SDK's. A snapshot is
rebuilt when this process changed a definition, or after `MAX_AGE_SECONDS` (other
collectors may share the store).

`exposure_message` is the `Experiment Viewed` event a client would send for an assignment,
with a message id derived from (experiment, salt, unit, variant) so repeated calls count once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from collector.events import SegmentMessage
from collector.wire import received_now
from experiments.assignment import compile_definition, sdk_document
from experiments.definitions import ExperimentDefinition
from experiments.service import ExperimentService
from sdk.experiments import Experiment, InvalidDefinition
from sdk.wire import EXPOSURE_EVENT, exposure_properties, exposure_sender

__all__ = ["MAX_AGE_SECONDS", "SdkSnapshot", "SdkSnapshots", "exposure_message"]

log = logging.getLogger("northstar.experiments")

MAX_AGE_SECONDS = 5.0
_ASSIGN_CONTEXT = msgspec.Raw(b'{"library":{"name":"northstar-assign"}}')


@dataclass(frozen=True)
class SdkSnapshot:
    """The running definitions as served (`body`, `etag`) and as compiled for evaluation."""

    revision: int
    built_at: float
    body: bytes
    etag: str
    compiled: Mapping[str, Experiment]
    running: tuple[str, ...]


class SdkSnapshots:
    """The latest snapshot of a service's definitions, replaced whole when it is stale."""

    def __init__(self, service: ExperimentService) -> None:
        self._service = service
        self._current: list[SdkSnapshot] = []

    def current(self) -> SdkSnapshot:
        """Blocking (reads the store when stale): call from a worker thread."""
        current, service = self._current, self._service
        if current and current[0].revision == service.revision and time.monotonic() - current[0].built_at < MAX_AGE_SECONDS:
            return current[0]
        revision = service.revision
        built = _build(service.list(), revision)
        current[:] = [built]
        return built


def _build(definitions: list[ExperimentDefinition], revision: int) -> SdkSnapshot:
    compiled: dict[str, Experiment] = {}
    for definition in definitions:
        try:
            compiled[definition.key] = compile_definition(definition)
        except InvalidDefinition as error:  # stored before a rule existed: not served
            log.warning("experiment %r is not served to SDKs: %s", definition.key, error)
    running = [d for d in definitions if d.status == "running" and d.key in compiled]
    body = msgspec.json.encode({"experiments": [sdk_document(d) for d in running]})
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return SdkSnapshot(revision, time.monotonic(), body, etag, compiled, tuple(d.key for d in running))


def exposure_message(experiment: Experiment, unit_id: str, variant: str | None,
                     anonymous_id: str | None = None) -> SegmentMessage:
    """The `Experiment Viewed` event an SDK logs on first exposure, with a stable message id."""
    identity = "\x1f".join([experiment.key, experiment.salt, unit_id, str(variant), anonymous_id or ""])
    now = received_now()
    user_id, sent_anonymous_id = exposure_sender(experiment.unit, unit_id, anonymous_id)
    properties = exposure_properties(experiment.key, variant, experiment.unit, unit_id)
    return SegmentMessage(
        type="track",
        event=EXPOSURE_EVENT,
        user_id=user_id,
        anonymous_id=sent_anonymous_id,
        message_id="exposure-" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        timestamp=now,
        properties=msgspec.Raw(msgspec.json.encode(properties)),
        context=_ASSIGN_CONTEXT,
        received_at=now,
    )

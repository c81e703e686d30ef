"""Experiment management over one ClickHouse store, safe to call from many threads.

Saves go through the lifecycle rules (`experiments.lifecycle`) and the layer check
(`experiments.layers`); `revision` changes whenever this process stores a definition, so
readers (the SDK snapshot) know when to rebuild.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from collector.storage import DefinitionStore
from collector.storage.clickhouse import Client
from experiments.definitions import DefinitionError, ExperimentDefinition
from experiments.layers import layer_conflict
from experiments.lifecycle import next_phase, revise, start, transition
from experiments.store import ExperimentStore, Versioned

__all__ = ["ExperimentService", "UnknownExperiment", "Saved", "entry"]


class UnknownExperiment(LookupError):
    """No experiment is stored under the key (the argument); the edge answers 404."""

    pass


@dataclass(frozen=True)
class Saved:
    """The stored definition, its version, and whether this call changed anything."""

    definition: ExperimentDefinition
    version: int
    changed: bool


class ExperimentService:
    """Saves and lifecycle changes of experiments, serialised by one lock so versions never interleave."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self.store = ExperimentStore(DefinitionStore(connect))
        self._lock = threading.RLock()
        self._revision = 0

    @property
    def revision(self) -> int:
        """Changes whenever this process stores a definition: readers rebuild what they derived."""
        return self._revision

    def save(self, definition: ExperimentDefinition, *, new_phase: bool = False) -> Saved:
        """Store `definition` through the lifecycle and layer rules; unchanged definitions are not stored again."""
        with self._lock:
            previous = self.store.latest(definition.key)
            revised = revise(
                None if previous is None else previous.definition, definition, _now(), new_phase=new_phase
            )
            return self._store(previous, revised)

    def save_all(self, definitions: list[ExperimentDefinition]) -> list[Saved]:
        """Save every definition, or none: each is checked (lifecycle rules, layers against
        the stored experiments and each other) before the first is stored; DefinitionError
        names the entry, ``experiments[i].field``. Keys must be distinct.
        """
        with self._lock:
            previous = [self.store.latest(definition.key) for definition in definitions]
            proposed = {definition.key: definition for definition in self.store.list()}
            revised = []
            for index, (definition, stored) in enumerate(zip(definitions, previous)):
                with entry(index):
                    revised.append(revise(None if stored is None else stored.definition, definition, _now()))
                proposed[definition.key] = revised[-1]
            for index, definition in enumerate(revised):
                conflict = layer_conflict(definition, proposed.values())
                if conflict is not None:
                    raise DefinitionError(f"experiments[{index}].layer", conflict)
            return [self._store(stored, definition, layers_checked=True)
                    for stored, definition in zip(previous, revised)]

    def start(self, key: str, phase_started_at: datetime | None = None) -> Saved:
        """Draft or stopped → running; `phase_started_at` (a draft only) analyses exposures
        already stored from that time (see `experiments.lifecycle.start`). Raises UnknownExperiment."""
        return self._change(key, lambda definition: start(definition, _now(), phase_started_at))

    def stop(self, key: str) -> Saved:
        """Running → stopped; raises UnknownExperiment."""
        return self._change(key, lambda definition: transition(definition, "stopped", _now()))

    def new_phase(self, key: str, salt: str | None = None) -> Saved:
        """A new phase with `salt` (None: derived from the key and phase number), so a new split."""
        return self._change(key, lambda definition: next_phase(definition, _now(), salt))

    def get(self, key: str) -> ExperimentDefinition:
        """The latest definition; raises UnknownExperiment."""
        definition = self.store.get(key)
        if definition is None:
            raise UnknownExperiment(key)
        return definition

    def list(self) -> list[ExperimentDefinition]:
        """Every experiment's latest definition."""
        return self.store.list()

    def history(self, key: str) -> builtins.list[Versioned[ExperimentDefinition]]:
        """Every stored version, oldest first; raises UnknownExperiment."""
        versions = self.store.history(key)
        if not versions:
            raise UnknownExperiment(key)
        return versions

    def _change(self, key: str, change: Callable[[ExperimentDefinition], ExperimentDefinition]) -> Saved:
        with self._lock:
            previous = self.store.latest(key)
            if previous is None:
                raise UnknownExperiment(key)
            return self._store(previous, change(previous.definition))

    def _store(self, previous: Versioned[ExperimentDefinition] | None, revised: ExperimentDefinition,
               *, layers_checked: bool = False) -> Saved:
        conflict = None if layers_checked else layer_conflict(revised, self.store.list())
        if conflict is not None:
            raise DefinitionError("layer", conflict)
        if previous is not None and previous.definition == revised:
            return Saved(revised, previous.version, False)
        version = self.store.save(revised)
        self._revision += 1
        return Saved(revised, version, True)


@contextlib.contextmanager
def entry(index: int) -> Iterator[None]:
    """DefinitionErrors raised inside name entry `index` of a list: ``experiments[i].field``."""
    try:
        yield
    except DefinitionError as error:
        raise DefinitionError(f"experiments[{index}].{error.field}", error.reason) from None


def _now() -> datetime:
    return datetime.now(timezone.utc)

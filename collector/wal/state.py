"""The checkpoint file: what the writer has made permanent in ClickHouse, and the chunk it is on.

Written atomically (temp file, fsync, rename, fsync of the directory), so after a crash it
holds either the previous or the new state, never a mix.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import WalCorrupt

STATE_FILE = "checkpoint.json"
_FORMAT = 1


@dataclass(frozen=True)
class ClaimedChunk:
    """LSN range handed to the writer and not yet checkpointed; replayed identically on restart."""

    first_lsn: int
    last_lsn: int


@dataclass(frozen=True)
class WalState:
    """Durable consumer state of one log directory.

    `wal_id` is random per directory and part of every dedup token, so two collectors (or a
    wiped and recreated directory) reusing the same LSNs never deduplicate each other's data.
    `acknowledged_lsn` is a lower bound of what was durable, so acknowledged, when the state
    was stored: recovery tells damage to those records from a torn, never-acknowledged write.
    """

    wal_id: str
    checkpointed_lsn: int = 0
    claimed: ClaimedChunk | None = None
    acknowledged_lsn: int = 0

    @classmethod
    def fresh(cls) -> WalState:
        """The state of a new log: a random id, nothing claimed, checkpointed or acknowledged."""
        return cls(wal_id=secrets.token_hex(8))

    def with_claim(self, claimed: ClaimedChunk | None) -> WalState:
        """This state with `claimed` as the chunk being inserted (None: none)."""
        return replace(self, claimed=claimed)

    def with_checkpoint(self, lsn: int) -> WalState:
        """This state with everything up to `lsn` in ClickHouse and no chunk claimed."""
        return replace(self, checkpointed_lsn=lsn, claimed=None)

    def with_acknowledged(self, lsn: int) -> WalState:
        """This state with everything up to `lsn` acknowledged; never moves backwards."""
        return replace(self, acknowledged_lsn=max(lsn, self.acknowledged_lsn))


def fsync_directory(directory: Path) -> None:
    """Make file creations, renames and deletions in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_state(directory: Path) -> WalState | None:
    """The stored state, or None if the directory has none yet."""
    path = directory / STATE_FILE
    try:
        raw = json.loads(path.read_bytes())
        claimed = raw["claimed"]
        return WalState(
            wal_id=str(raw["wal_id"]),
            checkpointed_lsn=int(raw["checkpointed_lsn"]),
            claimed=ClaimedChunk(int(claimed[0]), int(claimed[1])) if claimed else None,
            acknowledged_lsn=int(raw.get("acknowledged_lsn", 0)),  # absent: written before it existed
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise WalCorrupt(f"unreadable WAL state file {path}: {exc}") from exc


def store_state(directory: Path, state: WalState, *, fsync: bool) -> None:
    """Replace the state file atomically; durable on return when `fsync` is true."""
    claimed = [state.claimed.first_lsn, state.claimed.last_lsn] if state.claimed else None
    body = json.dumps(
        {
            "format": _FORMAT,
            "wal_id": state.wal_id,
            "checkpointed_lsn": state.checkpointed_lsn,
            "claimed": claimed,
            "acknowledged_lsn": state.acknowledged_lsn,
        }
    ).encode()
    temporary = directory / (STATE_FILE + ".tmp")
    with open(temporary, "wb") as file:
        file.write(body)
        file.flush()
        if fsync:
            os.fsync(file.fileno())
    os.replace(temporary, directory / STATE_FILE)
    if fsync:
        fsync_directory(directory)

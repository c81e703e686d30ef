"""The record of acknowledged message ids that a load run checks against the store.

Each locust process appends the ids the collector acknowledged (200, index not rejected) to
a file of its own in one directory, one id per line; the runner reads them all once the
run is over. A resent batch writes its ids again: readers get a set. A file cut short by a
killed process only loses ids from the check, it never invents one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

__all__ = ["ACK_DIR_ENV", "AckWriter", "read_acknowledged"]

ACK_DIR_ENV = "NORTHSTAR_LOADTEST_ACK_DIR"


class AckWriter:
    """Append-only `acks-<pid>.txt` under `directory`; buffered until `flush`/`close`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"acks-{os.getpid()}.txt"
        self._file: TextIO = self.path.open("a", encoding="ascii")

    def record(self, message_ids: Iterable[str]) -> None:
        self._file.writelines(f"{message_id}\n" for message_id in message_ids)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_acknowledged(directory: Path) -> set[str]:
    """Every id any process recorded, once."""
    acknowledged: set[str] = set()
    for path in sorted(directory.glob("acks-*.txt")):
        with path.open(encoding="ascii") as lines:
            acknowledged.update(line.rstrip("\n") for line in lines if line.endswith("\n"))
    return acknowledged

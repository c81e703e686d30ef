"""Chunks ClickHouse refuses as data: kept on disk for an operator instead of blocking the log.

A network or server problem is retried forever, but a row ClickHouse cannot parse (a log
written by an older version, a bug) would fail every retry and stop all ingestion behind
it. Such records are written to `<data dir>/dead-letter/` (fsync'd, with the reason) and
skipped, so nothing acknowledged is dropped and everything after it still flows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["DeadLetters", "is_refused_data"]

# ClickHouse error codes that mean "this data cannot be read as these columns".
_DATA_ERROR_CODES = frozenset({
    6,    # CANNOT_PARSE_TEXT
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,   # ATTEMPT_TO_READ_AFTER_EOF
    33,   # CANNOT_READ_ALL_DATA
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    53,   # TYPE_MISMATCH
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    131,  # TOO_LARGE_STRING_SIZE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
})
_CODE = re.compile(r"Code: (\d+)\.")


def is_refused_data(error: Exception) -> bool:
    """True when ClickHouse answered that the rows themselves are unreadable."""
    match = _CODE.search(str(error))
    return match is not None and int(match.group(1)) in _DATA_ERROR_CODES


class DeadLetters:
    """Append-only files of refused rows, one per log record, named after its dedup token."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def keep(self, name: str, rows: bytes, reason: str) -> Path:
        """Write `rows` and the reason durably; returns the file's path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.rows"
        with open(path, "wb") as file:
            file.write(f"# {reason.splitlines()[0][:500]}\n".encode())
            file.write(rows)
            file.flush()
            os.fsync(file.fileno())
        return path

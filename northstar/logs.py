"""Log output for the server process: readable text, or one JSON object per line for log shippers."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Literal

import msgspec

__all__ = ["configure_logging", "JsonFormatter", "LogFormat"]

LogFormat = Literal["text", "json"]
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "exception"?}` per record, UTC ISO 8601 times."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object per record: time (UTC, ms), level, logger, message, and the traceback if any."""
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: int, log_format: LogFormat) -> None:
    """Log to stderr at `level`, as text or one JSON object per line, replacing any earlier handlers."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)

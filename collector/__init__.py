"""Where data enters: the ingestion service.

HTTP routes (`ingestion`, `posthog`, `explorer`, `operations`) validate events (`wire`),
make them durable in the write-ahead log (`wal`) and a writer thread moves them into
ClickHouse (`writer`, `storage`). `admin_client` is a stdlib client of the server's
admin API for tools and tests.
"""

from collector.admin_client import AdminClient, ApiError
from collector.events import SegmentMessage
from collector.settings import CollectorSettings, Limits

__all__ = ["AdminClient", "ApiError", "CollectorSettings", "Limits", "SegmentMessage"]

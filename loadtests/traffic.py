"""Synthetic SDK traffic: Segment-shaped batches as busy apps send them to `POST /v1/batch`.

The mix is what product analytics looks like from the collector's side: mostly `track`
(~80%), some `page`, `identify` and `group`; batches of 1–100 events skewed to small (an
SDK flushes on a timer long before its batch is full); properties of a few hundred bytes;
a shared context (library, ip, user agent, page) on every event. Some users are exposed to
an experiment (`Experiment Viewed`, variant from the SDK's own hash) and some of them
convert, so the experiment's results are not empty.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate
from typing import Any

import sdk
from sdk.wire import EXPOSURE_EVENT

__all__ = ["Batch", "BatchFactory", "CONVERSION_EVENT", "DEFINITIONS_PATH", "MAX_BATCH_EVENTS", "VARIANTS"]

MAX_BATCH_EVENTS = 100
DEFINITIONS_PATH = "/v1/sdk/definitions"  # where SDKs poll experiment definitions (if served)
CONVERSION_EVENT = "Order Completed"
VARIANTS = ("control", "treatment")

_TYPES = ("track", "page", "identify", "group")
_TYPE_CUMULATIVE = tuple(accumulate((80, 12, 6, 2)))
_TRACK_EVENTS = ("Product Viewed", "Product Added", "Search Performed", "Checkout Started",
                 CONVERSION_EVENT, EXPOSURE_EVENT)
_TRACK_CUMULATIVE = tuple(accumulate((40, 14, 20, 7, 4, 15)))
_CATEGORIES = ("Games", "Books", "Garden", "Kitchen", "Music", "Outdoor", "Toys")
_PATHS = ("/", "/pricing", "/docs/getting-started", "/blog/ab-testing-at-scale", "/cart",
          "/products/trail-runner-2", "/account/settings")
_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
_USERS_PER_APP = 50_000
_PRODUCTS_PER_APP = 500
_DEVICES_PER_APP = 64


@dataclass(frozen=True)
class Batch:
    """One request body, ready to send and to resend byte for byte."""

    body: bytes
    gzipped: bool
    message_ids: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.gzipped:
            headers["Content-Encoding"] = "gzip"
        return headers


class BatchFactory:
    """Builds batches for one simulated app; not thread-safe (one per locust user).

    Each app has its own users, product catalogue and devices (contexts), drawn once, so
    that an event costs the load generator ~25 µs (JSON and gzip included).
    """

    def __init__(self, experiment_key: str, rng: random.Random, gzip_share: float = 0.85) -> None:
        self._experiment_key = experiment_key
        self._rng = rng
        self._gzip_share = gzip_share
        self._app = f"app-{rng.randrange(1 << 30):x}"
        self._products = [_product(rng, number) for number in rng.sample(range(100_000), _PRODUCTS_PER_APP)]
        self._devices = [_device_context(rng) for _ in range(_DEVICES_PER_APP)]

    def batch(self) -> Batch:
        """A new batch with fresh message ids, gzip'd like most SDKs send."""
        size = self._batch_size()
        sent_at = time.time()
        events = [self._event(sent_at) for _ in range(size)]
        body = json.dumps({"batch": events, "sentAt": _iso(sent_at)}, separators=(",", ":")).encode()
        gzipped = self._rng.random() < self._gzip_share
        if gzipped:
            body = gzip.compress(body, compresslevel=6, mtime=0)
        return Batch(body, gzipped, tuple(event["messageId"] for event in events))

    def _batch_size(self) -> int:
        """Median ~7, mean ~15, capped at the SDK's 100: most flushes are timer-driven."""
        return max(1, min(MAX_BATCH_EVENTS, round(self._rng.lognormvariate(2.0, 1.2))))

    def _event(self, sent_at: float) -> dict[str, Any]:
        rng = self._rng
        user_id = f"{self._app}-u{int(rng.random() * _USERS_PER_APP)}"
        kind = rng.choices(_TYPES, cum_weights=_TYPE_CUMULATIVE)[0]
        event: dict[str, Any] = {"type": kind, "userId": user_id}
        if kind == "track":
            name = rng.choices(_TRACK_EVENTS, cum_weights=_TRACK_CUMULATIVE)[0]
            event["event"] = name
            event["properties"] = self._track_properties(name, user_id)
        elif kind == "page":
            path = rng.choice(_PATHS)
            event["name"] = path.rsplit("/", 1)[-1] or "Home"
            event["properties"] = {"path": path, "url": f"https://shop.example.com{path}",
                                   "title": f"Example Shop · {path}", "referrer": "https://www.google.com/"}
        elif kind == "identify":
            event["traits"] = {"email": f"{user_id}@example.com", "plan": rng.choice(("free", "pro", "team")),
                               "name": f"User {user_id[-6:]}", "createdAt": "2024-03-01T09:30:00Z"}
        else:
            event["groupId"] = f"org-{int(rng.random() * 2_000)}"
            event["traits"] = {"name": "Acme Inc", "industry": rng.choice(_CATEGORIES),
                               "employees": 5 + int(rng.random() * 5_000)}
        event["context"] = rng.choice(self._devices)
        event["timestamp"] = _iso(sent_at - rng.random() * 10)
        event["messageId"] = _message_id()
        return event

    def _track_properties(self, name: str, user_id: str) -> dict[str, Any]:
        rng = self._rng
        if name == EXPOSURE_EVENT:
            variant = sdk.assign_variant(self._experiment_key, user_id, VARIANTS, (0.5, 0.5))
            return {"experiment_id": self._experiment_key, "variation_id": variant}
        if name == "Search Performed":
            return {"query": rng.choice(_CATEGORIES).lower() + " gift", "results": int(rng.random() * 60)}
        product = rng.choice(self._products)
        quantity = 1 + int(rng.random() * 3)
        if name == CONVERSION_EVENT:
            return {**product, "quantity": quantity, "order_id": _message_id()[:13],
                    "revenue": round(product["price"] * quantity, 2)}
        return {**product, "quantity": quantity}


def _product(rng: random.Random, number: int) -> dict[str, Any]:
    return {
        "product_id": f"p-{number}",
        "sku": f"SKU-{number:05d}-{rng.choice('SML')}",
        "category": rng.choice(_CATEGORIES),
        "name": f"Product {number}",
        "price": round(rng.uniform(2, 300), 2),
        "currency": "USD",
    }


def _device_context(rng: random.Random) -> dict[str, Any]:
    return {
        "library": {"name": "northstar-python", "version": sdk.VERSION},
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "userAgent": rng.choice(_AGENTS),
        "locale": rng.choice(("en-US", "de-DE", "fr-FR", "ja-JP")),
        "page": {"path": rng.choice(_PATHS)},
    }


def _message_id() -> str:
    """A random UUID-shaped id, cheaper than `str(uuid.uuid4())` (the collector only needs uniqueness)."""
    digits = os.urandom(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _iso(moment: float) -> str:
    """ISO 8601 UTC with milliseconds, as SDKs send `timestamp` and `sentAt`."""
    second = int(moment)
    return f"{_utc_second(second)}.{int((moment - second) * 1000):03d}Z"


@functools.lru_cache(maxsize=64)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")

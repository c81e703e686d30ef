"""Northstar's Python SDK: analytics events and local experiment assignment, stdlib only.

Either build a `Client`, or use the module-level default client::

    import sdk
    sdk.configure(write_key="wk_...", host="https://collector.example.com", sdk_key="sk_...")
    sdk.track("user-1", "Signed Up", {"plan": "pro"})
    variant = sdk.get_variant("checkout-button", "user-1", {"country": "US"}).variant

Experiment variants are evaluated locally (`sdk.experiments`) from definitions the client
refreshes in the background; the first in-experiment call per unit and variant tracks
`Experiment Viewed`.

The default client reads NORTHSTAR_WRITE_KEY / NORTHSTAR_HOST / NORTHSTAR_SDK_KEY when
`configure` was not called; with no write key at all its calls are no-ops (one warning is
logged). Without an SDK key `get_variant` gives default variants (one warning says so).

The package owns the wire vocabulary (`sdk.wire`) and the assignment hash (`sdk.assignment`)
that the collector and the analysis import. May import: the standard library only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from .assignment import assign_variant, bucket
from .client import DEFAULT_HOST, Client
from .counters import DropReason, Stats
from .errors import NorthstarError, logger
from .experiments import Assignment
from .version import VERSION

__all__ = [
    "VERSION",
    "Assignment",
    "Client",
    "DropReason",
    "NorthstarError",
    "Stats",
    "alias",
    "assign_variant",
    "bucket",
    "configure",
    "flush",
    "get_variant",
    "group",
    "identify",
    "page",
    "screen",
    "shutdown",
    "track",
    "wait_for_definitions",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_default_client: Client | None = None
_default_lock = threading.Lock()


def configure(write_key: str | None = None, host: str | None = None, **options: Any) -> Client:
    """(Re)build the default client; `options` are `Client` keyword arguments.

    Missing `write_key`/`host`/`sdk_key` come from NORTHSTAR_WRITE_KEY / NORTHSTAR_HOST /
    NORTHSTAR_SDK_KEY. A previous default client is shut down (flushing what it had queued,
    within `sdk.client.EXIT_TIMEOUT`).
    """
    global _default_client
    write_key = write_key or os.environ.get("NORTHSTAR_WRITE_KEY", "")
    host = host or os.environ.get("NORTHSTAR_HOST", DEFAULT_HOST)
    options.setdefault("sdk_key", os.environ.get("NORTHSTAR_SDK_KEY") or None)
    client = Client(write_key, host, **options)
    with _default_lock:
        previous, _default_client = _default_client, client
    if previous is not None:
        previous.close()
    return client


def _default() -> Client:
    global _default_client
    client = _default_client
    if client is None:
        with _default_lock:
            client = _default_client = _default_client or _client_from_environment()
    return client


def _client_from_environment() -> Client:
    write_key = os.environ.get("NORTHSTAR_WRITE_KEY", "")
    if not write_key:
        logger.warning("northstar: no write key (NORTHSTAR_WRITE_KEY or sdk.configure); events are ignored")
    return Client(write_key, os.environ.get("NORTHSTAR_HOST", DEFAULT_HOST), disabled=not write_key,
                  sdk_key=os.environ.get("NORTHSTAR_SDK_KEY") or None)


def _forward(method: Callable[Concatenate[Client, _P], _R]) -> Callable[_P, _R]:
    """A module-level function calling `method` on the default client."""

    def call_default(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return method(_default(), *args, **kwargs)

    call_default.__name__ = call_default.__qualname__ = method.__name__
    call_default.__doc__ = method.__doc__
    return call_default


track = _forward(Client.track)
identify = _forward(Client.identify)
alias = _forward(Client.alias)
group = _forward(Client.group)
page = _forward(Client.page)
screen = _forward(Client.screen)
flush = _forward(Client.flush)
get_variant = _forward(Client.get_variant)
wait_for_definitions = _forward(Client.wait_for_definitions)
shutdown = _forward(Client.shutdown)

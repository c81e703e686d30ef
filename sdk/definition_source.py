"""The experiment definitions a client evaluates, kept fresh from the collector in the background.

`GET {host}/v1/sdk/definitions` with the server-side SDK key (HTTP Basic username; never the
public write key, which ships in browser apps) and the last ETag
(`If-None-Match`, so an unchanged set costs a 304). The daemon thread starts on first use;
the app's thread only reads an immutable snapshot, so it never waits for the network. A
failed or unparsable fetch keeps the last good copy; an experiment the SDK cannot compile is
skipped (logged) without affecting the others. A bootstrap (a dict or a JSON file in the
endpoint's shape) gives definitions before, or without, the first fetch. Without an SDK key
nothing is fetched: only a bootstrap's experiments are known, and the first look-up of any
other logs one WARNING.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from .errors import logger
from .experiments import Experiment, InvalidDefinition
from .transport import base_url
from .version import LIBRARY_NAME, VERSION

__all__ = ["DefinitionSource", "Bootstrap", "compile_document"]

Bootstrap = Mapping[str, Any] | str | os.PathLike[str]
"""``{"experiments": [...]}`` as returned by the endpoint, or the path of a JSON file holding it."""

PATH = "/v1/sdk/definitions"
_MAX_BODY_BYTES = 16 * 1024 * 1024


def compile_document(document: Any) -> dict[str, Experiment]:
    """Compile every experiment of a definitions document, skipping (and logging) invalid ones."""
    experiments: dict[str, Experiment] = {}
    entries = document.get("experiments") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("a definitions document is {\"experiments\": [...]}")
    for entry in entries:
        try:
            experiment = Experiment(entry)
        except InvalidDefinition as error:
            key = entry.get("key") if isinstance(entry, Mapping) else None
            logger.warning("northstar: skipping experiment %r: %s", key, error)
            continue
        experiments[experiment.key] = experiment
    return experiments


class DefinitionSource:
    """Thread-safe; readers get a consistent snapshot without locking."""

    def __init__(
        self,
        host: str,
        sdk_key: str | None,
        *,
        refresh_interval: float = 30.0,
        timeout: float = 10.0,
        bootstrap: Bootstrap | None = None,
        fetch: bool = True,
    ) -> None:
        if refresh_interval <= 0:
            raise ValueError("definitions_refresh_interval must be positive")
        self._url = base_url(host) + PATH
        credentials = base64.b64encode(f"{sdk_key or ''}:".encode()).decode()
        self._headers = {"Authorization": f"Basic {credentials}", "User-Agent": f"{LIBRARY_NAME}/{VERSION}"}
        self._interval = refresh_interval
        self._timeout = timeout
        self._fetch = fetch and sdk_key is not None
        self._warn_no_key = fetch and sdk_key is None
        self._experiments: dict[str, Experiment] = {}
        self._etag: str | None = None
        self._failing = False
        if bootstrap is not None:
            self._load_bootstrap(bootstrap)
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """Fresh thread machinery (the next use starts the thread); the definitions stay."""
        self._stop = threading.Event()
        self._arrived = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self, key: str) -> Experiment | None:
        """The compiled experiment, or None when unknown (yet); starts the refresh thread."""
        if self._thread is None and self._fetch:
            self._start()
        experiment = self._experiments.get(key)
        if experiment is None and self._warn_no_key:
            self._warn_no_key = False
            logger.warning("northstar: get_variant(%r) gives the default variant: local evaluation needs "
                           "Client(sdk_key=...) (the server-side SDK key), or a bootstrap", key)
        return experiment

    def keys(self) -> list[str]:
        return list(self._experiments)

    def wait(self, timeout: float | None) -> bool:
        """Block until the first fetch succeeded; False after `timeout` seconds or when fetching is off."""
        if not self._fetch:
            return False
        self._start()
        return self._arrived.wait(timeout)

    def refresh(self) -> bool:
        """Fetch once; True when the collector answered with usable definitions (200 or 304)."""
        headers = dict(self._headers)
        if self._etag is not None:
            headers["If-None-Match"] = self._etag
        request = urllib.request.Request(self._url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read(_MAX_BODY_BYTES + 1)
                etag = response.headers.get("ETag")
            if len(body) > _MAX_BODY_BYTES:
                raise ValueError(f"definitions are over {_MAX_BODY_BYTES} bytes")
            self._experiments = compile_document(json.loads(body))
            self._etag = etag
        except urllib.error.HTTPError as error:
            if error.code != 304:
                return self._failed(f"HTTP {error.code}")
        except Exception as error:  # unreachable, timed out, not JSON, wrong shape
            return self._failed(repr(error))
        if self._failing:
            logger.info("northstar: experiment definitions fetched again")
        self._failing = False
        self._arrived.set()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _failed(self, detail: str) -> bool:
        if not self._failing:
            logger.warning("northstar: cannot fetch experiment definitions from %s (%s); keeping the last good copy",
                           self._url, detail)
        self._failing = True
        return False

    def _start(self) -> None:
        if not self._fetch or self._stop.is_set():
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="northstar-definitions", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                logger.exception("northstar definitions refresh failed")
            self._stop.wait(self._interval)

    def _load_bootstrap(self, bootstrap: Bootstrap) -> None:
        try:
            if isinstance(bootstrap, Mapping):
                document = bootstrap
            else:
                with open(bootstrap, encoding="utf-8") as file:
                    document = json.load(file)
            self._experiments = compile_document(document)
        except Exception as error:
            logger.warning("northstar: ignoring the definitions bootstrap: %r", error)

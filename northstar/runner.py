"""Running the server with uvicorn, in the foreground or on a background thread."""

from __future__ import annotations

import signal
import threading
import time

import uvicorn

from collector.settings import CollectorSettings
from northstar.web.app import build_app

__all__ = ["serve_forever", "BackgroundServer"]


def _config(settings: CollectorSettings) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        limit_concurrency=settings.max_concurrent_requests,
        # Longer than the ingestion Retry-After, so a client that waits exactly that long
        # finds its keep-alive connection still open.
        timeout_keep_alive=15,
        # Nothing reads client addresses, so X-Forwarded-* parsing is skipped; and the
        # responses do not name the server software.
        proxy_headers=False,
        server_header=False,
    )


def serve_forever(settings: CollectorSettings) -> None:
    """Serve until SIGINT/SIGTERM, then finish in-flight requests, flush, and exit with 0.

    uvicorn re-raises the stop signal once it has shut down gracefully; the handlers set
    here turn that into a clean exit instead of death by signal.
    """
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _exit_cleanly)
    uvicorn.Server(_config(settings)).run()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class BackgroundServer:
    """The server on a daemon thread of this process, for the demo."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self._server = uvicorn.Server(_config(settings))
        self._thread = threading.Thread(target=self._server.run, name="northstar-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self, timeout: float = 60.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(60)

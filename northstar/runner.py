"""Running the server with uvicorn, in the foreground or on a background thread.

The listening socket is bound before anything else is built, so a port in use fails first,
with nothing created; the connection guard (`northstar.web.connections`) replaces uvicorn's
HTTP protocol, and the application limits requests in flight itself.
"""

from __future__ import annotations

import logging
import math
import resource
import signal
import socket
import threading
import time

import uvicorn

from collector.settings import CollectorSettings
from northstar.web.app import build_app
from northstar.web.connections import guarded_protocol

__all__ = ["serve_forever", "BackgroundServer", "bind"]

log = logging.getLogger("northstar.server")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (`host`, `port`; 0: a free port); OSError names the address."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except (OSError, OverflowError) as error:
        listener.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None
    listener.setblocking(False)
    return listener


def listening_url(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server on an already bound socket; says where it listens once it accepts."""

    def __init__(self, settings: CollectorSettings, listener: socket.socket) -> None:
        app = build_app(settings)

        def count_refusal(reason: str) -> None:
            app.state.metrics.requests_refused.labels(reason).inc()

        limits = settings.connections
        super().__init__(uvicorn.Config(
            app,
            http=guarded_protocol(limits, count_refusal),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=30,
            limit_concurrency=None,  # counts sockets; the application counts requests instead
            timeout_keep_alive=math.ceil(limits.keep_alive_timeout_seconds),
            # Nothing reads client addresses, so X-Forwarded-* parsing is skipped; and the
            # responses do not name the server software.
            proxy_headers=False,
            server_header=False,
        ))
        self.listener = listener
        self.url = listening_url(listener)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            log.info("listening on %s", self.url)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        super().run(sockets=[self.listener])


def serve_forever(settings: CollectorSettings, listener: socket.socket) -> None:
    """Serve on `listener` (see `bind`) until SIGINT/SIGTERM, then finish in-flight requests,
    flush, and exit with 0.

    uvicorn re-raises the stop signal once it has shut down gracefully; the handlers set
    here turn that into a clean exit instead of death by signal.
    """
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _exit_cleanly)
    _raise_open_files_limit()
    _Server(settings, listener).run()


def _raise_open_files_limit() -> None:
    """Every connection is a file descriptor: take the hard limit (often 1,024 soft), so
    connections are refused by the guard's rules rather than by the kernel's."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # an unlimited hard limit is not a valid soft one
        log.warning("open files limited to %d (could not raise to the hard limit)", soft)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class BackgroundServer:
    """The server on a daemon thread of this process, for the demo."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self._server = _Server(settings, bind(settings.host, settings.port))
        self._thread = threading.Thread(target=self._server.run, name="northstar-server", daemon=True)

    @property
    def url(self) -> str:
        return self._server.url

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

"""Finding a free local port, for the demo and for tools that start a server."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the usual bind-to-0 probe)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]

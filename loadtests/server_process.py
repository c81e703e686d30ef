"""The server as a child process: for tests, load tests and benchmarks that talk HTTP to it.

Imports nothing of the server itself, so tools that start one stay light. A test and
benchmark helper: it is not part of the product's runtime.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

from northstar.ports import free_port

__all__ = ["CollectorProcess", "free_port"]


@dataclass(eq=False)
class CollectorProcess:
    """`python -m northstar serve` on 127.0.0.1 with a data directory and fixed secrets.

    `secret_files` passes the credentials as files (`--write-key-file` …, written next to the
    data directory, mode 0600) instead of on the command line.
    """

    data_dir: Path
    _: KW_ONLY
    write_key: str = "test-write-key"
    admin_secret: str = "test-admin-secret"
    sdk_key: str = "test-sdk-key-0123456789"
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    max_file_bytes: int | None = None
    """Caps every file the server writes (RLIMIT_FSIZE): a full disk, for tests."""
    secret_files: bool = False
    log_path: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "collector.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id; it must be running."""
        if self._process is None:
            raise RuntimeError("the collector is not running")
        return self._process.pid

    def start(self, timeout: float = 60.0) -> CollectorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "northstar", "serve",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            *self._credential_arguments(),
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            preexec_fn=self._limit_file_size if self.max_file_bytes else None,
        )
        log.close()
        self._wait_healthy(timeout)
        return self

    def _credential_arguments(self) -> list[str]:
        credentials = {"write-key": self.write_key, "admin-secret": self.admin_secret, "sdk-key": self.sdk_key}
        if not self.secret_files:
            # `=` form: a generated secret may start with "-", which argparse would take for a flag.
            return [f"--{flag}={value}" for flag, value in credentials.items()]
        arguments = []
        for flag, value in credentials.items():
            path = self.data_dir.parent / f"{self.data_dir.name}-{flag}"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(value + "\n")
            arguments.append(f"--{flag}-file={path}")
        return arguments

    def _limit_file_size(self) -> None:
        limit = resource.RLIM_INFINITY if self.max_file_bytes is None else self.max_file_bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"collector exited with {self._process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"collector not healthy after {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` (SIGKILL to simulate a crash) and wait; returns the exit code."""
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(sig)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()
        finally:
            self._process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> CollectorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

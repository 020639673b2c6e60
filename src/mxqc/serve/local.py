"""Running ``mxqc serve`` as a child process on loopback (benchmarks, screenshots)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_subprocess(*args: str, start_timeout_s: float = 120.0, **popen):
    """Start ``mxqc serve ARGS`` on a free loopback port; yield its URL once /healthz
    answers; stop it on exit. Raises RuntimeError if it never becomes healthy."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "mxqc.cli", "serve", "--port", url.rsplit(":", 1)[1],
               *args]
    server = subprocess.Popen(command, **popen)
    try:
        deadline = time.time() + start_timeout_s
        while True:
            try:  # the standard library: a plain install has no HTTP client package
                with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mxqc serve did not become healthy ({' '.join(command)})")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)

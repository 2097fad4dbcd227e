"""Shared test fixtures.

- ``CNMAP_DATA_MIRROR`` defaults to ``../shared/data`` beside the project (as in CI);
- every test session gets its own empty cache folder (``CNMAP_CACHE_DIR``);
- outbound network connections are refused: tests never touch the internet.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT.parent / "shared" / "data").resolve()
FIXTURES = Path(__file__).resolve().parent / "fixtures"


os.environ.setdefault("CNMAP_DATA_MIRROR", str(SHARED))
os.environ["CNMAP_OFFLINE"] = "1"

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in {"localhost", "::1"}):
        return _real_connect(self, address)  # type: ignore[arg-type]
    if self.family == getattr(socket, "AF_UNIX", None):
        return _real_connect(self, address)  # type: ignore[arg-type]
    raise RuntimeError(f"tests must not touch the network (tried to connect to {address!r})")


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cnmap_cache")
    os.environ["CNMAP_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data mirror (``../shared/data``); tests needing it skip if it is absent."""
    mirror = Path(os.environ["CNMAP_DATA_MIRROR"])
    if not (mirror / "birmingham").is_dir():
        pytest.skip(f"real-data mirror not found at {mirror}")
    return mirror


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES

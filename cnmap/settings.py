"""Environment-only settings: cache folder, offline mirror, network timeout, progress bars.

Nothing here changes a result; parameters that do are explicit function arguments.

Environment variables
---------------------
``CNMAP_CACHE_DIR``
    Folder for downloaded data and derived caches (default: the user cache folder,
    e.g. ``~/.cache/cnmap``).
``CNMAP_DATA_MIRROR``
    A local folder that stands in for the publishers' websites (CI sets it to
    ``../shared/data``). Its layout is described by the catalogue's ``mirror`` entries.
``CNMAP_OFFLINE``
    ``1`` forbids any network access (cache and mirror only).
``CNMAP_TIMEOUT``
    Network timeout in seconds (default 60).
``CNMAP_PROGRESS``
    ``0`` hides progress bars.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "mirror_dir", "offline", "timeout_s", "progress_enabled"]


def cache_dir() -> Path:
    """Folder where downloads and derived caches are kept (created on demand)."""
    env = os.environ.get("CNMAP_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / "cnmap"
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path | None:
    """The offline mirror folder named by ``CNMAP_DATA_MIRROR``, or None."""
    env = os.environ.get("CNMAP_DATA_MIRROR")
    if not env:
        return None
    return Path(env).expanduser().resolve()


def offline() -> bool:
    """True when ``CNMAP_OFFLINE`` forbids network access."""
    return os.environ.get("CNMAP_OFFLINE", "0").strip().lower() in {"1", "true", "yes"}


def timeout_s() -> float:
    """Network timeout in seconds."""
    return float(os.environ.get("CNMAP_TIMEOUT", "60"))


def progress_enabled() -> bool:
    """Whether long steps show tqdm progress bars."""
    return os.environ.get("CNMAP_PROGRESS", "1").strip().lower() not in {"0", "false", "no"}

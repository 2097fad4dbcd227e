"""Environment-only settings: cache folder, offline mirror, network timeout.

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
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from cnmap.errors import CacheFolderError

__all__ = [
    "cache_dir",
    "mirror_dir",
    "offline",
    "timeout_s",
    "CacheFolderError",
    "cache_error",
    "cache_write_error",
]


def _cache_setting() -> tuple[Path, str]:
    """The cache folder and where it comes from (for messages)."""
    env = os.environ.get("CNMAP_CACHE_DIR")
    if env:
        return Path(env).expanduser(), f"CNMAP_CACHE_DIR={env}"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    origin = "XDG_CACHE_HOME/cnmap" if xdg else "the default ~/.cache/cnmap"
    return base / "cnmap", f"{origin}; CNMAP_CACHE_DIR is not set"


def cache_error(problem: str, fix: str = "") -> CacheFolderError:
    """A :class:`CacheFolderError` naming the cache folder, ``problem`` and the fix."""
    folder, origin = _cache_setting()
    first = f"{fix}, or set" if fix else "Set"
    return CacheFolderError(
        f"cnmap cannot use its cache folder {folder} ({origin}): {problem}. Fix: {first} "
        "CNMAP_CACHE_DIR to a folder you can write to (e.g. export "
        "CNMAP_CACHE_DIR=$HOME/cnmap-cache) and run again."
    )


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path``) that is not a folder."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def cache_write_error(target: Path, exc: OSError) -> CacheFolderError:
    """The :class:`CacheFolderError` for writing ``target`` in the cache having failed."""
    blocker = _file_in_the_way(target.parent)
    if isinstance(exc, IsADirectoryError) or target.is_dir():
        return cache_error(
            f"{target} is a folder where cnmap keeps a file", f"delete the folder {target}"
        )
    if blocker is not None:
        return cache_error(
            f"{blocker} is a file where cnmap needs a folder", f"delete the file {blocker}"
        )
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return cache_error(
            f"it is read-only (writing {target}: {exc.strerror or exc})", "make the folder writable"
        )
    return cache_error(
        f"writing {target} failed ({exc.strerror or exc})", "free some space or check the disk"
    )


def cache_dir() -> Path:
    """Folder where downloads and derived caches are kept (created on demand).

    Raises
    ------
    CacheFolderError
        (a DataFetchError) when the folder is a file or cannot be created; the message
        names the folder and how to choose another (``CNMAP_CACHE_DIR``).
    """
    path, _ = _cache_setting()
    blocker = _file_in_the_way(path)
    if blocker is not None:  # the user's file: never suggest deleting it
        raise cache_error(
            "it is a file, not a folder"
            if blocker == path
            else f"{blocker} is a file, so the folder cannot be made"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(
            f"it cannot be created ({exc.strerror or exc})", "create it yourself"
        ) from exc
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

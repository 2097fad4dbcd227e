"""A cache folder that cannot be used gives a cnmap error naming the folder and the fix
(``CNMAP_CACHE_DIR``), never a raw PermissionError / IsADirectoryError / NotADirectoryError.

Tests run as root, for whom ``chmod`` cannot make a folder read-only; a read-only folder is
simulated by making the file-system calls that write into it (``tempfile.mkstemp`` and
``os.replace``/``os.unlink`` inside ``cnmap.data.fetch``) raise the error the kernel gives
(EACCES or EROFS). A file or a folder in the wrong place is made for real.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import os
import tempfile
from pathlib import Path

import pytest

from cnmap import settings
from cnmap.data import fetch_record
from cnmap.data.catalogue import parse_catalogue
from cnmap.data.fetch import SIDECAR_SUFFIX
from cnmap.errors import CnmapError, DataFetchError

CSV = b"LSOA11CD,LSOA11NM,pop\nE01000001,Test 001A,1500\n"
CSV_SHA = hashlib.sha256(CSV).hexdigest()
LAD = "E09000001"

catmod = importlib.import_module("cnmap.data.catalogue")
fetchmod = importlib.import_module("cnmap.data.fetch")
loadmod = importlib.import_module("cnmap.data.loaders")

CATALOGUE = f"""
[datasets.t]
title = "Test t"
publisher = "Test publisher"
url = "https://example.org/t.csv"
url_kind = "direct"
format = "csv"
coverage = "national"
licence = "OGL-UK-3.0"
attribution = "Test attribution"
vintage = "2011"
crs = "none"
key_columns = ["lsoa_code"]
sha256 = ""
member = ""
rename_patterns = {{ '^LSOA11CD$' = "lsoa_code" }}

[[datasets.t.mirror]]
path = "t.csv"
lad_codes = ["{LAD}"]
sha256 = "{CSV_SHA}"
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A mirror holding t.csv, a catalogue naming it, downloads off; returns the cache path."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "t.csv").write_bytes(CSV)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    cat = parse_catalogue(CATALOGUE, path=Path("test-catalogue.toml"))
    for mod in (catmod, fetchmod, loadmod):
        monkeypatch.setattr(mod, "catalogue", lambda cat=cat: cat)
    return cache


def _fetch_fails(cache: Path, *needles: str) -> str:
    with pytest.raises(DataFetchError) as info:
        fetch_record("t", lad_code=LAD)
    err = info.value
    assert isinstance(err, settings.CacheFolderError) and isinstance(err, CnmapError)
    msg = str(err)
    assert str(cache) in msg and "CNMAP_CACHE_DIR" in msg and "Fix:" in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


def _copy_dest(cache: Path) -> Path:
    """Where the mirror copy of t.csv goes (found by one good fetch into a scratch cache)."""
    rec = fetch_record("t", lad_code=LAD)
    return cache / rec.path.relative_to(cache)


# ----------------------------------------------------------------------- a file in the way


def test_cache_folder_is_a_file(env):
    env.write_text("not a folder")
    msg = _fetch_fails(env, "it is a file, not a folder", "Fix: Set CNMAP_CACHE_DIR")
    assert "delete" not in msg  # the user's own file: never suggest deleting it
    assert env.read_text() == "not a folder"  # nothing deleted for the user


def test_cache_folder_below_a_file(env, monkeypatch):
    env.write_text("x")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(env / "sub"))
    with pytest.raises(settings.CacheFolderError, match=r"is a file, so the folder cannot"):
        settings.cache_dir()


@pytest.mark.parametrize("blocked", ["data", "data/t"])
def test_a_file_where_a_cache_subfolder_belongs(env, blocked):
    (env / blocked).parent.mkdir(parents=True, exist_ok=True)
    (env / blocked).write_text("x")
    _fetch_fails(env, f"{env / blocked} is a file where cnmap needs a folder")


# ----------------------------------------------------------------------- a folder in the way


def test_a_folder_where_the_cached_file_belongs(env):
    dest = _copy_dest(env)
    dest.unlink()
    (dest.with_name(dest.name + SIDECAR_SUFFIX)).unlink()
    (dest / "inner").mkdir(parents=True)
    _fetch_fails(env, f"{dest} is a folder where cnmap keeps a file", f"delete the folder {dest}")


def test_a_folder_where_a_cached_file_with_sidecar_belongs(env):
    """The sidecar says a file is cached; a folder stands in its place."""
    dest = _copy_dest(env)
    dest.unlink()
    (dest / "inner").mkdir(parents=True)
    _fetch_fails(env, f"{dest} is a folder where cnmap keeps a file")


def test_a_folder_where_the_sidecar_belongs(env):
    dest = _copy_dest(env)
    side = dest.with_name(dest.name + SIDECAR_SUFFIX)
    side.unlink()
    dest.unlink()
    side.mkdir()
    _fetch_fails(env, f"{side} is a folder where cnmap keeps a file")


# ----------------------------------------------------------------------- read-only


def _raising(code: int):
    """An OSError subclass instance as the kernel gives it (PermissionError for EACCES)."""

    def raiser(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return raiser


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.EPERM])
def test_read_only_cache_folder(env, monkeypatch, code):
    env.mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", _raising(code))
    msg = _fetch_fails(env, "it is read-only", "make the folder writable")
    assert os.strerror(code) in msg


def test_read_only_cache_when_moving_the_copy_into_place(env, monkeypatch):
    env.mkdir()
    monkeypatch.setattr(fetchmod.os, "replace", _raising(errno.EROFS))
    _fetch_fails(env, "it is read-only")


def test_read_only_cache_with_a_damaged_copy(env, monkeypatch):
    """A cached copy fails verification and cannot be removed: a clear error, not EACCES."""
    dest = _copy_dest(env)
    dest.write_bytes(CSV[:20])
    monkeypatch.setattr(Path, "unlink", _raising(errno.EACCES))
    _fetch_fails(env, "it is read-only")


def test_cache_folder_that_cannot_be_created(env, monkeypatch):
    def no_mkdir(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", no_mkdir)
    with pytest.raises(settings.CacheFolderError, match="cannot be created") as info:
        settings.cache_dir()
    assert str(env) in str(info.value) and "CNMAP_CACHE_DIR" in str(info.value)


def test_default_cache_folder_message_says_how_to_set_one(env, monkeypatch, tmp_path):
    monkeypatch.delenv("CNMAP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg").write_text("x")
    with pytest.raises(settings.CacheFolderError) as info:
        settings.cache_dir()
    msg = str(info.value)
    assert "CNMAP_CACHE_DIR is not set" in msg and "export CNMAP_CACHE_DIR=" in msg


# ----------------------------------------------------------------------- the walk network


def test_walk_network_cache_folder_is_a_file(env, fixtures_dir):
    from cnmap.network import read_walk_network

    env.write_text("x")
    with pytest.raises(DataFetchError, match="it is a file, not a folder"):
        read_walk_network(fixtures_dir / "network" / "tiny_walk.osm", cache=True)
    net = read_walk_network(fixtures_dir / "network" / "tiny_walk.osm", cache=False)
    assert net.n_edges > 0  # without the cache the network reads as before


def test_read_only_cache_with_verified_copies_still_serves_them(env, monkeypatch):
    """Only writes need a writable folder: a read-only cache holding the file still works."""
    dest = _copy_dest(env)
    monkeypatch.setattr(tempfile, "mkstemp", _raising(errno.EROFS))
    monkeypatch.setattr(fetchmod.os, "replace", _raising(errno.EROFS))
    rec = fetch_record("t", lad_code=LAD)
    assert rec.source == "cache" and rec.path == dest and rec.path.read_bytes() == CSV

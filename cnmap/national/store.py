"""Finished districts kept on disk, so that a national run resumes where it stopped.

Each district's result is written to ``out_dir/_partial/<key>/`` as three Parquet files
(residents' walks, LSOA and ward attributes) and a JSON summary written last (a district is
finished when its JSON is there and says ``"ok"``). ``<key>`` is the first 16 hex digits of
a SHA-256 of every parameter that changes a result, the organisations' ids, points and types,
the partial format version and the cnmap version (:func:`cnmap.national.config.params_hash`):
a run with another parameter or another organisation list uses another folder and reuses
nothing. Within it, each district's files are named ``<lad>@<tag>``, the tag saying which
network it walks on (:func:`cnmap.national.district.network_tag`: ``line`` for the straight
line, ``net-<checksum>`` for a catalogued network): switching networks on reuses every
district that has none. Failed districts are not kept: a new run computes them again.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cnmap import columns as C
from cnmap.national.district import DistrictOutput

__all__ = ["PartialStore", "PARTIAL_DIR"]

#: The folder of partial results inside a national run's output folder.
PARTIAL_DIR = "_partial"
_FRAMES = ("residents", "lsoas", "wards")


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _json_value(v.item())
    return v


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class PartialStore:
    """The partial results of one parameter set (see the module text)."""

    root: Path
    key: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, out_dir: Path, key: str, tags: Mapping[str, str] | None = None) -> PartialStore:
        """The store of the run ``key`` under ``out_dir`` (created when absent)."""
        root = Path(out_dir) / PARTIAL_DIR / key[:16]
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, key, dict(tags or {}))

    def _path(self, lad: str, what: str) -> Path:
        stem = f"{lad}@{self.tags.get(lad, 'line')}"
        return self.root / (f"{stem}.json" if what == "summary" else f"{stem}.{what}.parquet")

    def write_params(self, params: dict[str, Any]) -> None:
        """Record what the key stands for (for people reading the folder)."""
        _write_atomic(
            self.root / "params.json",
            json.dumps({"key": self.key, **params}, indent=2, default=str),
        )

    def done(self, lad: str) -> bool:
        """Whether ``lad`` finished with these parameters."""
        p = self._path(lad, "summary")
        if not p.is_file() or not all(self._path(lad, w).is_file() for w in _FRAMES):
            return False
        try:
            summary: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
            return summary.get("status") == "ok"
        except (OSError, ValueError):
            return False

    def write(self, out: DistrictOutput) -> None:
        """Keep a finished district (its frames first, its summary last)."""
        if not out.ok:
            return
        lad = out.summary[C.LAD_CODE]
        for what in _FRAMES:
            frame = getattr(out, what)
            tmp = self._path(lad, what).with_suffix(".tmp")
            frame.reset_index(drop=True).to_parquet(tmp, index=False)
            os.replace(tmp, self._path(lad, what))
        summary = {k: _json_value(v) for k, v in out.summary.items()}
        _write_atomic(self._path(lad, "summary"), json.dumps(summary, default=str))

    def summary(self, lad: str) -> dict[str, Any]:
        """The stored summary of a finished district."""
        return dict(json.loads(self._path(lad, "summary").read_text(encoding="utf-8")))

    def frames(self, lads: Iterable[str], what: str) -> pd.DataFrame:
        """The ``what`` frames (``residents``, ``lsoas``, ``wards``) of ``lads``, in order."""
        parts = [pd.read_parquet(self._path(lad, what)) for lad in lads]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def clear(self) -> None:
        """Forget every finished district of this parameter set."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

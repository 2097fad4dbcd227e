"""All of England at once: the per-district run mapped over districts by Dask distributed.

- :func:`run_national` — a national configuration (``configs/england_libraries.toml``) run on
  a LocalCluster or any Dask scheduler: ``tables/lads.csv``, ``lsoas.csv``, ``wards.csv``,
  ``deciles.csv``, a national district map and the lowest-coverage districts' own maps;
- :func:`read_national_config` — the configuration (the run-config sections of
  :mod:`cnmap.config` plus ``[national]``);
- :func:`halo_walks` — the exact partition: one piece's residents walked on the organisations
  and network of a halo around them (:mod:`cnmap.national.halo` says why it is exact);
- :func:`aggregate` — the tables' population-weighted sums (the same as
  :func:`cnmap.coverage.coverage`'s).

See ``docs/national.md``. Needs ``pip install "dask[distributed]>=2024.1"`` (and pyarrow).
"""

from __future__ import annotations

from cnmap.national.config import (
    NationalConfig,
    NationalFile,
    NationalParams,
    NationalSection,
    read_national_config,
)
from cnmap.national.halo import HaloPass, HaloResult, WalkSpec, halo_walks, sub_network
from cnmap.national.run import NationalResult, PopulationMismatchError, run_national
from cnmap.national.tables import aggregate

__all__ = [
    "run_national",
    "NationalResult",
    "PopulationMismatchError",
    "read_national_config",
    "NationalConfig",
    "NationalParams",
    "NationalSection",
    "NationalFile",
    "halo_walks",
    "sub_network",
    "WalkSpec",
    "HaloPass",
    "HaloResult",
    "aggregate",
]

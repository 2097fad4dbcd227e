"""The national run's configuration: a ``[national]`` section beside the run-config sections.

A national file has the sections of a ``cnmap run`` file that make sense for England (read
with the models of :mod:`cnmap.config`, unchanged) and one of its own::

    [national]                 # cnmap.config.NationalSection
    districts = "all"          # or a list of codes / names: ["E06000017", "Melton"]
    networks = "at_hand"       # "none", "at_hand" (a catalogued network) or "build" (OSM)
    worst_maps = 10            # maps of the districts with the lowest coverage
    workers = 2                # LocalCluster workers (default: one per core)
    scheduler = "tcp://host:8786"   # a running Dask scheduler instead of a LocalCluster
    memory_limit = "4GB"       # per LocalCluster worker

    [[organisations]]          # cnmap.config.OrganisationEntry
    [coverage]                 # cnmap.config.CoverageSection; detour_factor is required
    [output]                   # cnmap.config.OutputSection

``[area]``, ``[network]`` and ``[thin]`` are refused: the districts come from ``[national]``
(IoD2025 on 2021 LSOAs, Census 2021 usual residents), and networks are found per district.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cnmap.config import (
    CoverageSection,
    NationalFile,
    NationalSection,
    OrganisationSource,
    load_document,
    organisation_sources,
    resolve_path,
)
from cnmap.errors import ValidationError

__all__ = [
    "NationalSection",
    "NationalFile",
    "NationalParams",
    "NationalConfig",
    "read_national_config",
    "NETWORK_CHOICES",
    "PARTIAL_VERSION",
]

#: ``[national] networks``: where a district's walk network may come from.
NETWORK_CHOICES = ("none", "at_hand", "build")
#: Bump when the per-district partial results change meaning (invalidates every cache).
PARTIAL_VERSION = 1
#: What every national run loads for each district.
LSOA_VINTAGE = 2021
IOD = 2025
POPULATION = "census2021"


@dataclass(frozen=True)
class NationalParams:
    """Everything that changes a district's result (hashed to key the partial results).

    Attributes
    ----------
    minutes, speed_kmh, persona
        Time limits (ascending) and walking speed (a persona's, when one is named).
    detour_factor
        Straight-line districts: walking / straight-line distance.
    max_snap_m
        Largest distance from a point to a street (network districts).
    residents
        How residents are placed (:func:`cnmap.residents.residential_points`).
    networks
        ``"none"`` (straight line everywhere), ``"at_hand"`` (a catalogued network where the
        cache or mirror has one) or ``"build"`` (also built from OpenStreetMap).
    type_col
        Organisation type column (None: no breakdown by type).
    lsoa_vintage, iod, population
        What every district is loaded with (2021 LSOAs, IoD2025, Census 2021 residents).
    """

    minutes: tuple[int | float, ...] = (15,)
    speed_kmh: float = 4.8
    persona: str | None = None
    detour_factor: float = 1.4
    max_snap_m: float = 500.0
    residents: str = "postcodes"
    networks: str = "at_hand"
    type_col: str | None = "type"
    lsoa_vintage: int = LSOA_VINTAGE
    iod: int = IOD
    population: str = POPULATION

    def __post_init__(self) -> None:
        if self.networks not in NETWORK_CHOICES:
            raise ValidationError(f"networks={self.networks!r}; use one of {NETWORK_CHOICES}")
        if not self.detour_factor >= 1.0:
            raise ValidationError(f"detour_factor={self.detour_factor!r} must be >= 1")

    @property
    def headline_minutes(self) -> int | float:
        """15 if it is among the limits, else the longest (as CoverageResult)."""
        return 15 if 15 in self.minutes else self.minutes[-1]

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (recorded with the national outputs)."""
        d = asdict(self)
        d["minutes"] = list(self.minutes)
        return d


@dataclass(frozen=True)
class NationalConfig:
    """A national run: parameters, organisation files, districts and cluster options."""

    params: NationalParams
    organisations: tuple[OrganisationSource, ...]
    out_dir: Path
    districts: tuple[str, ...] | None = None  # None: every English district
    worst_maps: int = 10
    workers: int | None = None
    scheduler: str | None = None
    memory_limit: str | None = None
    self_contained: bool = False
    source: Path | None = field(default=None, compare=False)


def _speed(cov: CoverageSection) -> float:
    if cov.persona is not None:
        from cnmap.network.speeds import WALKING_SPEEDS

        return float(WALKING_SPEEDS[cov.persona])
    return 4.8 if cov.speed_kmh is None else float(cov.speed_kmh)


def _params(doc: NationalFile, where: str) -> NationalParams:
    cov = doc.coverage
    if cov.detour_factor is None:
        raise ValidationError(
            f"{where}: [coverage] detour_factor is missing; a national run measures districts "
            "without a walk network along the straight line times this factor (e.g. 1.4, "
            "Birmingham's calibrated median; see docs/national.md)"
        )
    networks = "none" if cov.mode == "crow_flies" else doc.national.networks
    return NationalParams(
        minutes=tuple(cov.minutes),
        speed_kmh=_speed(cov),
        persona=cov.persona,
        detour_factor=float(cov.detour_factor),
        max_snap_m=float(cov.max_snap_m),
        residents=str(cov.residents),
        networks=networks,
        type_col=cov.type_col,
    )


def read_national_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> NationalConfig:
    """Read and check a national configuration (a TOML/YAML file or a dict).

    Paths are relative to the file's folder (the working folder for a dict); ``${VARS}`` are
    expanded from the environment.

    Raises
    ------
    ValidationError
        One line naming the file, the key, the value and the fix.
    """
    doc, base, path = load_document(source, NationalFile, what="national config")
    where = str(path) if path is not None else "national config"
    sec = doc.national
    return NationalConfig(
        params=_params(doc, where),
        organisations=organisation_sources(doc.organisations, base=base, where=where),
        out_dir=resolve_path(doc.output.dir, "[output] dir", base, where),
        districts=None if sec.districts == "all" else tuple(sec.districts),
        worst_maps=sec.worst_maps,
        workers=sec.workers,
        scheduler=sec.scheduler,
        memory_limit=sec.memory_limit,
        self_contained=doc.output.self_contained,
        source=path,
    )


def params_hash(params: NationalParams, organisations_fingerprint: str) -> str:
    """Key of the partial results: the parameters, the organisations and the cnmap version.

    ``networks`` is left out: it changes a district's result only through the network the
    district then uses, which each district's partial result is tagged with
    (:func:`cnmap.national.district.network_tag`)."""
    from cnmap import __version__

    values = {k: v for k, v in params.to_dict().items() if k != "networks"}
    blob = json.dumps(
        {
            "params": values,
            "organisations": organisations_fingerprint,
            "partial_version": PARTIAL_VERSION,
            "cnmap": __version__,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()

"""The :class:`Scenario` value object: organisations plus the parameters of their coverage.

A scenario is frozen and validated when made, from Python or from a TOML/YAML file checked
against :class:`cnmap.config.ScenarioFile` (the schema ``cnmap run`` shares: the same keys,
rules, messages and defaults). :meth:`Scenario.run` computes its
:class:`cnmap.coverage.CoverageResult`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel

from cnmap import _check
from cnmap import schema as S
from cnmap.config import (
    AreaSection,
    CoverageSection,
    FilterSection,
    ScenarioFile,
    organisation_sources,
    read_config_file,
    resolve_path,
    validate,
)
from cnmap.errors import ValidationError
from cnmap.scenarios.sources import describe, read_items

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork

__all__ = ["Scenario"]

MODES = ("network", "crow_flies")


def _default(section: type[BaseModel], key: str) -> Any:
    """The default of ``key`` in a section of the configuration schema (one set of defaults
    for ``cnmap run``, scenario files and :class:`Scenario`)."""
    return section.model_fields[key].default


def _check_types(types: Any, where: str) -> tuple[str, ...]:
    t = (types,) if isinstance(types, str) else tuple(types)
    if not t or not all(isinstance(x, str) and x.strip() for x in t):
        raise ValidationError(f"{where}: types={types!r} must be a non-empty list of type names")
    return t


@dataclass(frozen=True, eq=False)
class Scenario:
    """A set of organisations and the parameters to measure their walking coverage.

    Parameters
    ----------
    name
        Short label used in tables and summaries.
    organisations
        An :class:`cnmap.io.OrganisationTable`, a GeoDataFrame of points, a path (read with
        :func:`cnmap.read_organisations` when the scenario runs, with the area), an
        :class:`cnmap.config.OrganisationSource`, or a list of these (combined; ids are then
        prefixed with the position, as in ``cnmap run``).
    minutes, speed_kmh, persona, mode, residents, max_snap_m, detour_factor, type_col
        As for :func:`cnmap.coverage.coverage`; the defaults are those of ``[coverage]`` in
        :mod:`cnmap.config`.
    types
        Keep only organisations whose type or one of whose services is among these (normalised
        tokens, e.g. ``("food_bank", "food")``). None: all.
    open_during
        Keep only organisations open during this weekly window (``"Mo-Fr 17:00-20:00"``; see
        :mod:`cnmap.hours`). None: ignore opening hours.
    hours_require, hours_weeks, hours_rules, hours_unknown
        ``require``, ``weeks``, ``rules`` and ``unknown`` of :func:`cnmap.hours.coverage_at`;
        the defaults are those of ``[filter]``.
    description
        Free text, carried into the outputs.
    lad_code, lsoa_vintage, iod, network_path
        Where the scenario applies (used by :func:`cnmap.workflows.compare_files`, which reads
        them from scenario files; ignored by :meth:`run`, which is given the area and network).
        The defaults are those of ``[area]`` and :func:`cnmap.load_area`: the IoD2025 on 2021
        LSOAs.
    """

    name: str
    organisations: Any
    minutes: tuple[int | float, ...] = _default(CoverageSection, "minutes")
    speed_kmh: float | None = _default(CoverageSection, "speed_kmh")
    persona: str | None = _default(CoverageSection, "persona")
    mode: str = _default(CoverageSection, "mode")
    residents: Any = _default(CoverageSection, "residents")
    max_snap_m: float = _default(CoverageSection, "max_snap_m")
    detour_factor: float | None = _default(CoverageSection, "detour_factor")
    type_col: str | None = _default(CoverageSection, "type_col")
    types: tuple[str, ...] | None = _default(FilterSection, "types")
    open_during: str | None = _default(FilterSection, "open_during")
    hours_require: str = _default(FilterSection, "require")
    hours_weeks: str = _default(FilterSection, "weeks")
    hours_rules: str = _default(FilterSection, "rules")
    hours_unknown: str = _default(FilterSection, "unknown_hours")
    description: str = ""
    lad_code: str | None = None
    lsoa_vintage: int = _default(AreaSection, "lsoa_vintage")
    iod: int = _default(AreaSection, "iod")
    network_path: Path | None = None
    source: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from cnmap.network.speeds import resolve_speed  # lazily: the network loads numba

        where = f"scenario {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("a scenario needs a name (a non-empty string)")
        if self.organisations is None:
            raise ValidationError(
                f"{where}: organisations is missing; give a file path, an "
                "OrganisationTable or a GeoDataFrame"
            )
        object.__setattr__(self, "minutes", _check.minutes_tuple("minutes", self.minutes))
        resolve_speed(self.speed_kmh, self.persona)  # raises on an unknown persona or a conflict
        if not isinstance(self.mode, str) or self.mode not in MODES:
            raise ValidationError(f"{where}: mode={self.mode!r} is not one of {MODES}")
        try:
            _check.positive_number("max_snap_m", self.max_snap_m, unit="metres")
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        if self.types is not None:
            object.__setattr__(self, "types", _check_types(self.types, where))
        self._check_hours(where)

    def _check_hours(self, where: str) -> None:
        from cnmap.hours import REQUIRES, RULES, UNKNOWN, WEEKS, parse_window

        if self.open_during is not None:
            object.__setattr__(self, "open_during", parse_window(self.open_during).label)
        for name, value, choices in (
            ("hours_require", self.hours_require, REQUIRES),
            ("hours_weeks", self.hours_weeks, WEEKS),
            ("hours_rules", self.hours_rules, RULES),
            ("hours_unknown", self.hours_unknown, UNKNOWN),
        ):
            if value not in choices:
                raise ValidationError(f"{where}: {name}={value!r} is not one of {choices}")

    # -- construction -------------------------------------------------------------------------

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Read a scenario from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

        Paths are relative to the file and may use ``${ENV}`` variables. The file is checked
        against :class:`cnmap.config.ScenarioFile`, the schema ``cnmap run`` shares: types,
        ranges, choices and unknown keys. See ``docs/scenarios.md`` and
        ``docs/configuration.md`` for the format.
        """
        p = Path(path)
        raw, syntax = read_config_file(p, what="scenario")
        return cls._from_document(
            validate(raw, ScenarioFile, where=str(p), yaml=syntax == "YAML"), p.resolve().parent, p
        )

    @classmethod
    def from_dict(
        cls,
        raw: dict[str, Any],
        *,
        base: str | os.PathLike[str] | None = None,
        source: Path | None = None,
    ) -> Scenario:
        """A scenario from the dict form of a scenario file (see :meth:`from_file`)."""
        where = str(source or "scenario")
        yaml = source is not None and Path(source).suffix.lower() in {".yaml", ".yml"}
        doc = validate(raw, ScenarioFile, where=where, yaml=yaml)
        return cls._from_document(doc, Path(base) if base is not None else Path.cwd(), source)

    @classmethod
    def _from_document(cls, doc: ScenarioFile, base: Path, source: Path | None) -> Scenario:
        where = str(source or "scenario")
        net, cov, flt, area = doc.network, doc.coverage, doc.filter, doc.area
        if "dataset" in net.model_fields_set and net.dataset != "osm_walk_network":
            raise ValidationError(
                f"{where}: [network] dataset={net.dataset!r}: scenario files "
                "take [network] path (a walk network file), or nothing for "
                "the catalogue's osm_walk_network"
            )
        kw: dict[str, Any] = {
            "name": doc.name,
            "description": doc.description,
            "source": source,
            "organisations": organisation_sources(doc.organisations, base=base, where=where),
            "minutes": cov.minutes,
            "speed_kmh": cov.speed_kmh,
            "persona": cov.persona,
            "mode": cov.mode,
            "residents": cov.residents,
            "max_snap_m": cov.max_snap_m,
            "detour_factor": cov.detour_factor,
            "type_col": cov.type_col,
            "types": flt.types,
            "open_during": flt.open_during,
            "hours_require": flt.require,
            "hours_weeks": flt.weeks,
            "hours_rules": flt.rules,
            "hours_unknown": flt.unknown_hours,
            "lad_code": area.lad_code,
            "lsoa_vintage": area.lsoa_vintage,
            "iod": area.iod,
            "network_path": None
            if net.path is None
            else resolve_path(net.path, "[network] path", base, where),
        }
        try:
            return cls(**kw)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None

    # -- running ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The scenario's settings as plain values (recorded in every result)."""
        return {
            "name": self.name,
            "description": self.description,
            "organisations": describe(self.organisations),
            "minutes": list(self.minutes),
            "speed_kmh": self.speed_kmh,
            "persona": self.persona,
            "mode": self.mode,
            "residents": self.residents if isinstance(self.residents, str) else "user points",
            "max_snap_m": float(self.max_snap_m),
            "detour_factor": self.detour_factor,
            "type_col": self.type_col,
            "types": None if self.types is None else list(self.types),
            "open_during": self.open_during,
            "hours_require": self.hours_require,
            "hours_weeks": self.hours_weeks,
            "hours_rules": self.hours_rules,
            "hours_unknown": self.hours_unknown,
            "lad_code": self.lad_code,
            "lsoa_vintage": self.lsoa_vintage,
            "iod": self.iod,
            "network_path": None if self.network_path is None else str(self.network_path),
            "source": None if self.source is None else str(self.source),
        }

    def read_organisations(self, area: Area | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
        """The scenario's organisations as one GeoDataFrame, and the rows rejected on reading
        (see :func:`cnmap.scenarios.sources.read_items`)."""
        items = (
            list(self.organisations)
            if isinstance(self.organisations, list | tuple)
            else [self.organisations]
        )
        return read_items(items, area, name=self.name)

    def _coverage_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`cnmap.coverage.coverage` this scenario sets."""
        return dict(
            minutes=self.minutes,
            speed_kmh=self.speed_kmh,
            persona=self.persona,
            mode=self.mode,
            residents=self.residents,
            max_snap_m=float(self.max_snap_m),
            detour_factor=self.detour_factor,
            type_col=self.type_col,
        )

    def run(self, area: Area, network: WalkNetwork | None = None) -> CoverageResult:
        """Compute the scenario's walking coverage (:func:`cnmap.coverage.coverage`).

        The result's ``params["scenario"]`` records the scenario and what its filters kept;
        organisations rejected when reading or excluded for unknown hours are listed in
        ``quality``.

        Parameters
        ----------
        area
            The area (:func:`cnmap.load_area`); files are read with it.
        network
            The walk network (None: crow-flies results only).

        Returns
        -------
        CoverageResult
        """
        from cnmap.basket import match_types
        from cnmap.coverage import coverage
        from cnmap.hours import coverage_at

        orgs, rejected = self.read_organisations(area)
        info: dict[str, Any] = {
            **self.to_dict(),
            "n_organisations_read": len(orgs),
            "n_rejected_on_reading": int(len(rejected)),
        }
        if self.types is not None:
            mask = match_types(orgs, {"types": list(self.types)})["types"]
            orgs = orgs.loc[mask].reset_index(drop=True)
            info["n_after_type_filter"] = int(len(orgs))
        kw = self._coverage_options()
        if self.open_during is not None:
            result = coverage_at(
                self.open_during,
                orgs,
                area,
                network,
                unknown=self.hours_unknown,
                require=self.hours_require,
                weeks=self.hours_weeks,
                rules=self.hours_rules,
                **kw,
            )
        else:
            result = coverage(orgs, area, network=network, **kw)
        params = dict(result.params)
        params["scenario"] = info
        return dataclasses.replace(
            result, params=params, quality=_with_rejected(result.quality, rejected)
        )


def _with_rejected(quality: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """The coverage's quality table with one row per organisation rejected on reading."""
    if not len(rejected):
        return quality
    name = (
        rejected[S.NAME].astype(str)
        if S.NAME in rejected.columns
        else pd.Series([""] * len(rejected))
    )
    why = (
        rejected[S.REASON].astype(str)
        if S.REASON in rejected.columns
        else pd.Series([""] * len(rejected))
    )
    rows = pd.DataFrame(
        {
            "what": "organisation rejected on reading",
            "id": rejected.get(S.SOURCE_ROW, pd.Series(range(len(rejected))))
            .astype(str)
            .to_numpy(),
            "detail": (name + ": " + why).to_numpy(),
        }
    )
    return pd.concat([quality, rows], ignore_index=True)

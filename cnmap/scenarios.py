"""Scenarios: organisations plus parameters; who gains and who loses coverage; next-best sites.

- :class:`Scenario` — a frozen value object (organisations, time limits, walking speed or
  persona, residents, snapping limit, type filter, opening-hours window), also read from a TOML
  or YAML file (:meth:`Scenario.from_file`); :meth:`Scenario.run` computes its
  :class:`cnmap.coverage.CoverageResult`.
- :func:`compare` — scenario B against scenario A: population gained, lost and net change,
  computed per residential point and then summed (so gains and losses inside one LSOA are both
  visible), the change in mean walking time, by LSOA, ward and IMD decile, and an equity
  summary (coverage by decile, concentration indices of coverage over deprivation rank).
  ``compare(a, a)`` is exactly zero.
- :func:`suggest_sites` — greedy maximal coverage: the candidate venues that bring the most
  (deprived) residents not yet covered within reach, one at a time.
- :func:`compare_files` — the ``cnmap compare A.toml B.toml --out DIR`` command's core.

See ``docs/scenarios.md`` for the file format, every column and the formulae.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import columns as C
from cnmap.config import (
    ScenarioFile,
    organisation_sources,
    read_config_file,
    resolve_path,
    validate,
)
from cnmap.errors import MissingColumnError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork

__all__ = [
    "Scenario",
    "Comparison",
    "compare",
    "compare_files",
    "concentration_index",
    "suggest_sites",
]

log = logging.getLogger(__name__)

_MODES = ("network", "crow_flies")


# ---------------------------------------------------------------------------------------------
# Scenario


def _describe_orgs(orgs: Any) -> Any:
    from cnmap.pipeline import OrganisationSource

    if isinstance(orgs, OrganisationSource):
        return {"path": str(orgs.path), "label": orgs.label, "type": orgs.type}
    if isinstance(orgs, str | os.PathLike):
        return str(orgs)
    if isinstance(orgs, pd.DataFrame):
        return f"GeoDataFrame of {len(orgs)} organisations"
    if hasattr(orgs, "organisations"):
        return f"OrganisationTable of {len(orgs.organisations)} organisations " \
               f"({getattr(orgs, 'source', '')})"
    if isinstance(orgs, list | tuple):
        return [_describe_orgs(o) for o in orgs]
    return repr(orgs)


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
        :class:`cnmap.pipeline.OrganisationSource`, or a list of these (combined; ids are then
        prefixed with the position, as in ``cnmap run``).
    minutes, speed_kmh, persona, mode, residents, max_snap_m, detour_factor, type_col
        As for :func:`cnmap.coverage.coverage`.
    types
        Keep only organisations whose type or one of whose services is among these (normalised
        tokens, e.g. ``("food_bank", "food")``). None: all.
    open_during
        Keep only organisations open during this weekly window (``"Mo-Fr 17:00-20:00"``; see
        :mod:`cnmap.hours`). None: ignore opening hours.
    hours_require, hours_weeks, hours_rules, hours_unknown
        ``require``, ``weeks``, ``rules`` and ``unknown`` of :func:`cnmap.hours.coverage_at`.
    description
        Free text, carried into the outputs.
    lad_code, lsoa_vintage, iod, network_path
        Where the scenario applies (used by :func:`compare_files`; ignored by :meth:`run`,
        which is given the area and network).
    """

    name: str
    organisations: Any
    minutes: tuple[int | float, ...] = (15,)
    speed_kmh: float | None = None
    persona: str | None = None
    mode: str = "network"
    residents: Any = "postcodes"
    max_snap_m: float = 500.0
    detour_factor: float | None = None
    type_col: str | None = C.ORG_TYPE
    types: tuple[str, ...] | None = None
    open_during: str | None = None
    hours_require: str = "any"
    hours_weeks: str = "every"
    hours_rules: str = "osm"
    hours_unknown: str = "exclude"
    description: str = ""
    lad_code: str | None = None
    lsoa_vintage: int = 2011
    iod: int = 2019
    network_path: Path | None = None
    source: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from cnmap.coverage import _as_minutes, _speed
        from cnmap.hours import REQUIRES, RULES, UNKNOWN, WEEKS, parse_window

        where = f"scenario {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("a scenario needs a name (a non-empty string)")
        if self.organisations is None:
            raise ValidationError(f"{where}: organisations is missing; give a file path, an "
                                  "OrganisationTable or a GeoDataFrame")
        object.__setattr__(self, "minutes", _as_minutes(self.minutes))
        _speed(self.speed_kmh, self.persona)  # raises on an unknown persona or a conflict
        if not isinstance(self.mode, str) or self.mode not in _MODES:
            raise ValidationError(f"{where}: mode={self.mode!r} is not one of {_MODES}")
        try:
            _check.positive_number("max_snap_m", self.max_snap_m, unit="metres")
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        if self.types is not None:
            t = (self.types,) if isinstance(self.types, str) else tuple(self.types)
            if not t or not all(isinstance(x, str) and x.strip() for x in t):
                raise ValidationError(f"{where}: types={self.types!r} must be a non-empty list "
                                      "of type names")
            object.__setattr__(self, "types", t)
        if self.open_during is not None:
            object.__setattr__(self, "open_during", parse_window(self.open_during).label)
        for name, value, choices in (("hours_require", self.hours_require, REQUIRES),
                                     ("hours_weeks", self.hours_weeks, WEEKS),
                                     ("hours_rules", self.hours_rules, RULES),
                                     ("hours_unknown", self.hours_unknown, UNKNOWN)):
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
        return cls._from_document(validate(raw, ScenarioFile, where=str(p),
                                           yaml=syntax == "YAML"), p.resolve().parent, p)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base: str | os.PathLike[str] | None = None,
                  source: Path | None = None) -> Scenario:
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
            raise ValidationError(f"{where}: [network] dataset={net.dataset!r}: scenario files "
                                  "take [network] path (a walk network file), or nothing for "
                                  "the catalogue's osm_walk_network")
        kw: dict[str, Any] = {
            "name": doc.name, "description": doc.description, "source": source,
            "organisations": organisation_sources(doc.organisations, base=base, where=where),
            "minutes": cov.minutes, "speed_kmh": cov.speed_kmh, "persona": cov.persona,
            "mode": cov.mode, "residents": cov.residents, "max_snap_m": cov.max_snap_m,
            "detour_factor": cov.detour_factor, "type_col": cov.type_col,
            "types": flt.types, "open_during": flt.open_during, "hours_require": flt.require,
            "hours_weeks": flt.weeks, "hours_rules": flt.rules,
            "hours_unknown": flt.unknown_hours, "lad_code": area.lad_code,
            "lsoa_vintage": area.lsoa_vintage, "iod": area.iod,
            "network_path": None if net.path is None else
            resolve_path(net.path, "[network] path", base, where),
        }
        try:
            return cls(**kw)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None

    # -- running ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The scenario's settings as plain values (recorded in every result)."""
        return {
            "name": self.name, "description": self.description,
            "organisations": _describe_orgs(self.organisations),
            "minutes": list(self.minutes), "speed_kmh": self.speed_kmh, "persona": self.persona,
            "mode": self.mode,
            "residents": self.residents if isinstance(self.residents, str) else "user points",
            "max_snap_m": float(self.max_snap_m), "detour_factor": self.detour_factor,
            "type_col": self.type_col, "types": None if self.types is None else list(self.types),
            "open_during": self.open_during, "hours_require": self.hours_require,
            "hours_weeks": self.hours_weeks, "hours_rules": self.hours_rules,
            "hours_unknown": self.hours_unknown, "lad_code": self.lad_code,
            "lsoa_vintage": self.lsoa_vintage, "iod": self.iod,
            "network_path": None if self.network_path is None else str(self.network_path),
            "source": None if self.source is None else str(self.source),
        }

    def read_organisations(self, area: Area | None = None
                           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
        """The scenario's organisations as one GeoDataFrame, and the rows rejected on reading."""
        from cnmap.pipeline import OrganisationSource, read_all_organisations

        items = list(self.organisations) if isinstance(self.organisations, list | tuple) \
            else [self.organisations]
        if not items:
            raise ValidationError(f"scenario {self.name!r}: the organisations list is empty")
        frames, rejected = [], []
        many = len(items) > 1
        for i, it in enumerate(items, start=1):
            if isinstance(it, str | os.PathLike):
                it = OrganisationSource(path=Path(it), label=Path(it).stem)
            if isinstance(it, OrganisationSource):
                g, rej, _ = read_all_organisations((it,), area)
                if not many:  # a single file keeps its own ids
                    g[C.ORG_ID] = g[C.ORG_ID].str.replace(r"^1-", "", regex=True)
                else:
                    g[C.ORG_ID] = g[C.ORG_ID].str.replace(r"^1-", f"{i}-", regex=True)
                frames.append(g)
                rejected.append(rej)
                continue
            g = getattr(it, "organisations", it)
            if not isinstance(g, gpd.GeoDataFrame):
                raise ValidationError(f"scenario {self.name!r}: organisations item {i} is a "
                                      f"{type(it).__name__}; give a path, an OrganisationTable "
                                      "or a GeoDataFrame")
            rej = getattr(it, "rejected", None)
            if isinstance(rej, pd.DataFrame) and len(rej):
                rejected.append(rej.assign(dataset=f"item {i}"))
            g = g.copy()
            if many:
                ids = g[C.ORG_ID].astype(str) if C.ORG_ID in g.columns else \
                    pd.Series([f"org{j}" for j in range(len(g))], index=g.index)
                g[C.ORG_ID] = [f"{i}-{v}" for v in ids]
            frames.append(g.to_crs(C.BNG) if g.crs is not None else g)
        crs = next((f.crs for f in frames if f.crs is not None), None)
        out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
        rej_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
        return out, rej_all

    def run(self, area: Area, network: WalkNetwork | None = None) -> CoverageResult:
        """Compute the scenario's walking coverage (:func:`cnmap.coverage.coverage`).

        The result's ``params["scenario"]`` records the scenario and what its filters kept;
        organisations rejected when reading or excluded for unknown hours are listed in
        ``quality``.
        """
        from cnmap.basket import match_types
        from cnmap.coverage import coverage
        from cnmap.hours import coverage_at

        orgs, rejected = self.read_organisations(area)
        n_read = len(orgs)
        info: dict[str, Any] = {**self.to_dict(), "n_organisations_read": n_read,
                                "n_rejected_on_reading": int(len(rejected))}
        if self.types is not None:
            mask = match_types(orgs, {"types": list(self.types)})["types"]
            orgs = orgs.loc[mask].reset_index(drop=True)
            info["n_after_type_filter"] = int(len(orgs))
        kw = dict(minutes=self.minutes, speed_kmh=self.speed_kmh, persona=self.persona,
                  mode=self.mode, residents=self.residents, max_snap_m=float(self.max_snap_m),
                  detour_factor=self.detour_factor, type_col=self.type_col)
        if self.open_during is not None:
            result = coverage_at(self.open_during, orgs, area, network,
                                 unknown=self.hours_unknown, require=self.hours_require,
                                 weeks=self.hours_weeks, rules=self.hours_rules, **kw)
        else:
            result = coverage(orgs, area, network=network, **kw)
        quality = result.quality
        if len(rejected):
            name = rejected["name"].astype(str) if "name" in rejected.columns else \
                pd.Series([""] * len(rejected))
            why = rejected["reason"].astype(str) if "reason" in rejected.columns else \
                pd.Series([""] * len(rejected))
            rows = pd.DataFrame({"what": "organisation rejected on reading",
                                 "id": rejected.get("source_row", pd.Series(range(len(rejected))))
                                 .astype(str).to_numpy(),
                                 "detail": (name + ": " + why).to_numpy()})
            quality = pd.concat([quality, rows], ignore_index=True)
        params = dict(result.params)
        params["scenario"] = info
        return dataclasses.replace(result, params=params, quality=quality)


# ---------------------------------------------------------------------------------------------
# equity measures


def concentration_index(y: Any, rank_key: Any, weights: Any | None = None, *,
                        kind: str = "erreygers") -> float:
    """Concentration index of an outcome in ``[0, 1]`` over a deprivation ranking.

    People are ranked from the most deprived (smallest ``rank_key``, e.g. the IMD rank where
    1 = most deprived in England) to the least deprived, with weighted fractional ranks
    ``R_i = (W_before + w_i / 2) / W``; people with the same ``rank_key`` (e.g. the residents
    of one LSOA) share one rank. With ``mu`` the weighted mean of ``y``:

    - ``"standard"``: ``C = 2 cov_w(y, R) / mu``;
    - ``"wagstaff"``: ``C / (1 - mu)``, the correction for a binary outcome (range -1..1);
    - ``"erreygers"``: ``4 mu C = 8 cov_w(y, R)`` (range -1..1).

    When nobody or everybody is covered (``mu`` 0 or 1) there is no inequality and every kind
    is 0. No valid rows at all gives NaN.

    Positive values: the outcome (coverage) is concentrated among the *less* deprived;
    negative: among the *more* deprived; 0: no association with deprivation.
    """
    if kind not in ("standard", "wagstaff", "erreygers"):
        raise ValidationError(f"kind={kind!r} is not one of 'standard', 'wagstaff', 'erreygers'")
    yv = np.asarray(y, dtype=float)
    kv = np.asarray(rank_key, dtype=float)
    wv = np.ones_like(yv) if weights is None else np.asarray(weights, dtype=float)
    if not (yv.shape == kv.shape == wv.shape):
        raise ValidationError("y, rank_key and weights must have the same length")
    ok = np.isfinite(yv) & np.isfinite(kv) & np.isfinite(wv) & (wv > 0)
    yv, kv, wv = yv[ok], kv[ok], wv[ok]
    if yv.size == 0:
        return float("nan")
    if (yv < 0).any() or (yv > 1).any():
        raise ValidationError("the concentration index here is for outcomes between 0 and 1 "
                              "(e.g. covered or not)")
    W = wv.sum()
    order = np.argsort(kv, kind="stable")
    ks, ws = kv[order], wv[order]
    uniq, start = np.unique(ks, return_index=True)
    gw = np.add.reduceat(ws, start)
    before = np.concatenate([[0.0], np.cumsum(gw)[:-1]])
    r_group = (before + gw / 2.0) / W
    R = np.empty_like(kv)
    R[order] = np.repeat(r_group, np.diff(np.append(start, ks.size)))
    mu = float((wv * yv).sum() / W)
    rbar = float((wv * R).sum() / W)
    cov = float((wv * (yv - mu) * (R - rbar)).sum() / W)
    if kind == "erreygers":
        return 8.0 * cov
    if mu == 0.0 or mu == 1.0:
        return 0.0  # nobody or everybody covered: no inequality to measure
    c = 2.0 * cov / mu
    return c if kind == "standard" else c / (1.0 - mu)


# ---------------------------------------------------------------------------------------------
# comparison


@dataclass(frozen=True, eq=False)
class Comparison:
    """Scenario B against scenario A, per residential point, summed by area.

    Attributes
    ----------
    name_a, name_b
        Labels of the two scenarios.
    thresholds
        Minutes compared.
    lsoas, wards, deciles
        Per group: ``population``; per threshold T: ``pop_covered_{T}min_a``/``_b``,
        ``pop_gained_{T}min`` (covered in B, not in A), ``pop_lost_{T}min`` (covered in A, not
        in B), ``net_change_{T}min`` (gained - lost), ``share_covered_{T}min_a``/``_b``,
        ``share_change_{T}min``; ``mean_walk_min_a``/``_b`` and ``mean_walk_change_min`` (the
        population-weighted mean of each point's change, over points with a walk in both).
    totals
        One row per threshold with the same measures for the whole area.
    equity
        One row per threshold: concentration indices of coverage over the IMD rank for A and
        B (standard, Wagstaff, Erreygers) and their changes, and the coverage share of the most
        and least deprived deciles present.
    residents
        Per residential point: ``covered_{T}min_a``/``_b``, ``gained_{T}min``, ``lost_{T}min``,
        ``walk_min_a``/``_b``, ``walk_change_min``.
    params
        ``{"a": params of A, "b": params of B, "minutes": [...], "rank_by": ...}``.
    """

    name_a: str
    name_b: str
    thresholds: tuple[int | float, ...]
    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    equity: pd.DataFrame
    residents: gpd.GeoDataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The comparison tables by name, for export."""
        return {"totals": self.totals, "equity": self.equity, "deciles": self.deciles,
                "wards": self.wards, "lsoas": self.lsoas}

    def summary(self) -> str:
        """A few lines for logs, notebooks and the command line."""
        lines = [f"{self.name_b!r} against {self.name_a!r}:"]
        eq = self.equity.set_index("minutes")
        for _, r in self.totals.iterrows():
            t = r["minutes"]
            lines.append(
                f"  {t:g} min: covered {r['share_covered_a']:.1%} -> {r['share_covered_b']:.1%}; "
                f"{r['pop_gained']:,.0f} people gain, {r['pop_lost']:,.0f} lose, net "
                f"{r['net_change']:+,.0f}; concentration index (Erreygers) "
                f"{eq.loc[t, 'ci_erreygers_a']:+.3f} -> {eq.loc[t, 'ci_erreygers_b']:+.3f}")
        mw = self.totals["mean_walk_change_min"].iloc[0]
        lines.append(f"  mean walking time to the nearest organisation: {mw:+.2f} min per person")
        t = self.thresholds[-1] if 15 not in self.thresholds else 15
        w = self.wards.sort_values(f"net_change_{t}min")
        gain = w.loc[w[f"net_change_{t}min"] > 0].tail(3).iloc[::-1]
        lose = w.loc[w[f"net_change_{t}min"] < 0].head(3)
        if len(gain):
            lines.append(f"  wards gaining most at {t:g} min: " + ", ".join(
                f"{n} ({v:+,.0f})" for n, v in zip(gain[C.WARD_NAME], gain[f"net_change_{t}min"],
                                                   strict=True)))
        if len(lose):
            lines.append(f"  wards losing most at {t:g} min: " + ", ".join(
                f"{n} ({v:+,.0f})" for n, v in zip(lose[C.WARD_NAME], lose[f"net_change_{t}min"],
                                                   strict=True)))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Comparison({self.name_b!r} vs {self.name_a!r}, minutes={list(self.thresholds)}, "
                f"{len(self.lsoas)} LSOAs, {len(self.wards)} wards)")


def _scenario_name(result: CoverageResult, default: str) -> str:
    sc = result.params.get("scenario")
    return str(sc.get("name")) if isinstance(sc, dict) and sc.get("name") else default


def _check_comparable(a: CoverageResult, b: CoverageResult,
                      minutes: Any) -> tuple[int | float, ...]:
    from cnmap.coverage import _as_minutes

    for key, label in (("lad_code", "area"), ("lsoa_vintage", "LSOA vintage"),
                       ("iod", "IoD edition")):
        if a.params.get(key) != b.params.get(key):
            raise ValidationError(f"the two results are for different places or data: {label} "
                                  f"{a.params.get(key)!r} (a) vs {b.params.get(key)!r} (b); "
                                  "compute both on the same area (cnmap.load_area)")
    ra, rb = a.residents, b.residents
    same = len(ra) == len(rb)
    if same:
        same = (np.array_equal(ra[C.LSOA_CODE].to_numpy(), rb[C.LSOA_CODE].to_numpy())
                and np.array_equal(ra["weight"].to_numpy(float), rb["weight"].to_numpy(float))
                and np.allclose(ra.geometry.x.to_numpy(), rb.geometry.x.to_numpy(), atol=1e-6,
                                rtol=0)
                and np.allclose(ra.geometry.y.to_numpy(), rb.geometry.y.to_numpy(), atol=1e-6,
                                rtol=0))
    if not same:
        raise ValidationError(
            f"the two results place the residents differently (a: {len(ra):,} points from "
            f"{a.params.get('residents')!r}, b: {len(rb):,} points from "
            f"{b.params.get('residents')!r}); run both with the same residents= and area")
    if minutes is None:
        if tuple(a.thresholds) != tuple(b.thresholds):
            raise ValidationError(f"the two results use different time limits ({list(a.thresholds)} "
                                  f"vs {list(b.thresholds)}); run both with the same minutes=, "
                                  "or pass compare(..., minutes=[...]) with limits both have")
        return tuple(a.thresholds)
    ts = _as_minutes(minutes)
    for t in ts:
        if t not in a.thresholds or t not in b.thresholds:
            raise ValidationError(f"minutes={t} is not among the time limits of both results "
                                  f"(a: {list(a.thresholds)}, b: {list(b.thresholds)})")
    return ts


def _rank_key(res: gpd.GeoDataFrame, lsoas: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Deprivation order of every resident (smaller = more deprived) and what it is."""
    L = lsoas.set_index(C.LSOA_CODE)
    for col, sign in (("imd_rank", 1.0), ("imd_score", -1.0), ("imd_decile", 1.0)):
        if col in L.columns:
            vals = pd.to_numeric(L[col], errors="coerce")
            return sign * vals.reindex(res[C.LSOA_CODE]).to_numpy(float), col
    raise MissingColumnError("the LSOAs carry no deprivation (imd_rank, imd_score or imd_decile); "
                             "load the area with cnmap.load_area to get IoD columns")


def _compare_results(a: CoverageResult, b: CoverageResult, ts: tuple[int | float, ...],
                     name_a: str, name_b: str) -> Comparison:
    ra, rb = a.residents, b.residents
    w = ra["weight"].to_numpy(float)
    P = pd.DataFrame({C.LSOA_CODE: ra[C.LSOA_CODE].to_numpy(),
                      C.WARD_CODE: ra[C.WARD_CODE].to_numpy(), "weight": w})
    dec = a.lsoas.set_index(C.LSOA_CODE)["imd_decile"] if "imd_decile" in a.lsoas.columns \
        else None
    if dec is not None:
        P["imd_decile"] = pd.to_numeric(dec, errors="coerce").reindex(P[C.LSOA_CODE]).to_numpy()
    for t in ts:
        ca = ra[f"covered_{t}min"].to_numpy(bool)
        cb = rb[f"covered_{t}min"].to_numpy(bool)
        P[f"covered_{t}min_a"] = ca
        P[f"covered_{t}min_b"] = cb
        P[f"gained_{t}min"] = cb & ~ca
        P[f"lost_{t}min"] = ca & ~cb
    wa = ra["walk_min"].to_numpy(float)
    wb = rb["walk_min"].to_numpy(float)
    P["walk_min_a"] = wa
    P["walk_min_b"] = wb
    both = np.isfinite(wa) & np.isfinite(wb)
    P["walk_change_min"] = np.where(both, wb - np.where(both, wa, 0.0), np.nan)

    def agg(key: str) -> pd.DataFrame:
        frame: dict[str, Any] = {"_k": P[key].to_numpy(), "population": w}
        for t in ts:
            frame[f"_ca{t}"] = np.where(P[f"covered_{t}min_a"], w, 0.0)
            frame[f"_cb{t}"] = np.where(P[f"covered_{t}min_b"], w, 0.0)
            frame[f"_g{t}"] = np.where(P[f"gained_{t}min"], w, 0.0)
            frame[f"_l{t}"] = np.where(P[f"lost_{t}min"], w, 0.0)
        for s, wk in (("a", wa), ("b", wb)):
            fin = np.isfinite(wk)
            frame[f"_ww{s}"] = np.where(fin, w * np.where(fin, wk, 0.0), 0.0)
            frame[f"_wf{s}"] = np.where(fin, w, 0.0)
        frame["_dw"] = np.where(both, w * np.nan_to_num(P["walk_change_min"].to_numpy()), 0.0)
        frame["_df"] = np.where(both, w, 0.0)
        s = pd.DataFrame(frame).groupby("_k", sort=True).sum()
        pop = s["population"].to_numpy()
        out = pd.DataFrame(index=s.index)
        out["population"] = pop
        with np.errstate(invalid="ignore", divide="ignore"):
            for t in ts:
                out[f"pop_covered_{t}min_a"] = s[f"_ca{t}"]
                out[f"pop_covered_{t}min_b"] = s[f"_cb{t}"]
                out[f"pop_gained_{t}min"] = s[f"_g{t}"]
                out[f"pop_lost_{t}min"] = s[f"_l{t}"]
                out[f"net_change_{t}min"] = s[f"_g{t}"] - s[f"_l{t}"]
                sa = s[f"_ca{t}"].to_numpy() / pop
                sb = s[f"_cb{t}"].to_numpy() / pop
                out[f"share_covered_{t}min_a"] = sa
                out[f"share_covered_{t}min_b"] = sb
                out[f"share_change_{t}min"] = sb - sa
            out["mean_walk_min_a"] = s["_wwa"] / s["_wfa"]
            out["mean_walk_min_b"] = s["_wwb"] / s["_wfb"]
            out["mean_walk_change_min"] = s["_dw"] / s["_df"]
        out.index.name = key
        return out

    lbase = a.lsoas[[c for c in (C.LSOA_CODE, "lsoa_name", C.WARD_CODE, C.WARD_NAME, "imd_rank",
                                 "imd_decile", "geometry") if c in a.lsoas.columns]]
    lsoas = gpd.GeoDataFrame(lbase.merge(agg(C.LSOA_CODE), left_on=C.LSOA_CODE, right_index=True,
                                         how="left"), geometry="geometry", crs=a.lsoas.crs)
    wbase = a.wards[[c for c in (C.WARD_CODE, C.WARD_NAME, "geometry") if c in a.wards.columns]]
    wards = gpd.GeoDataFrame(wbase.merge(agg(C.WARD_CODE), left_on=C.WARD_CODE, right_index=True,
                                         how="left"), geometry="geometry", crs=a.wards.crs)
    if "imd_decile" in P.columns and P["imd_decile"].notna().any():
        deciles = agg("imd_decile").reset_index()
        deciles = deciles.loc[deciles["imd_decile"].notna()].astype({"imd_decile": int})
        deciles = deciles.reset_index(drop=True)
    else:
        deciles = pd.DataFrame(columns=["imd_decile"])

    total = float(w.sum())
    tot_rows, eq_rows = [], []
    key, rank_by = _rank_key(ra, a.lsoas)
    fa, fb = np.isfinite(wa), np.isfinite(wb)
    for t in ts:
        ca = P[f"covered_{t}min_a"].to_numpy(bool)
        cb = P[f"covered_{t}min_b"].to_numpy(bool)
        g = float(w[P[f"gained_{t}min"].to_numpy(bool)].sum())
        lo = float(w[P[f"lost_{t}min"].to_numpy(bool)].sum())
        pa, pb = float(w[ca].sum()), float(w[cb].sum())
        tot_rows.append({
            "minutes": t, "population": total, "pop_covered_a": pa, "pop_covered_b": pb,
            "pop_gained": g, "pop_lost": lo, "net_change": g - lo,
            "share_covered_a": pa / total if total else np.nan,
            "share_covered_b": pb / total if total else np.nan,
            "share_change": (pb / total - pa / total) if total else np.nan,
            "mean_walk_min_a": float(np.average(wa[fa], weights=w[fa])) if fa.any() else np.nan,
            "mean_walk_min_b": float(np.average(wb[fb], weights=w[fb])) if fb.any() else np.nan,
            "mean_walk_change_min": float(np.average(P["walk_change_min"].to_numpy()[both],
                                                     weights=w[both])) if both.any() else np.nan,
        })
        row: dict[str, Any] = {"minutes": t, "rank_by": rank_by}
        for kind, label in (("standard", "ci"), ("wagstaff", "ci_wagstaff"),
                            ("erreygers", "ci_erreygers")):
            va = concentration_index(ca.astype(float), key, w, kind=kind)
            vb = concentration_index(cb.astype(float), key, w, kind=kind)
            row[f"{label}_a"] = va
            row[f"{label}_b"] = vb
            row[f"{label}_change"] = vb - va
        if len(deciles):
            lo_d, hi_d = deciles.iloc[0], deciles.iloc[-1]
            row["most_deprived_decile"] = int(lo_d["imd_decile"])
            row["share_most_deprived_a"] = float(lo_d[f"share_covered_{t}min_a"])
            row["share_most_deprived_b"] = float(lo_d[f"share_covered_{t}min_b"])
            row["least_deprived_decile"] = int(hi_d["imd_decile"])
            row["share_least_deprived_a"] = float(hi_d[f"share_covered_{t}min_a"])
            row["share_least_deprived_b"] = float(hi_d[f"share_covered_{t}min_b"])
        eq_rows.append(row)
    residents = gpd.GeoDataFrame(P, geometry=ra.geometry.values, crs=ra.crs)
    params = {"a": a.params, "b": b.params, "minutes": list(ts), "rank_by": rank_by,
              "name_a": name_a, "name_b": name_b}
    return Comparison(name_a=name_a, name_b=name_b, thresholds=ts, lsoas=lsoas, wards=wards,
                      deciles=deciles, totals=pd.DataFrame(tot_rows),
                      equity=pd.DataFrame(eq_rows), residents=residents, params=params)


def compare(a: Any, b: Any, *, area: Area | None = None, network: WalkNetwork | None = None,
            minutes: float | Iterable[float] | None = None, name_a: str | None = None,
            name_b: str | None = None) -> Comparison:
    """Who gains and who loses walking coverage going from scenario A to scenario B.

    Parameters
    ----------
    a, b
        Two :class:`cnmap.coverage.CoverageResult` (or two :class:`Scenario`, run here on
        ``area`` and ``network``). They must cover the same area with the same residential
        points and, unless ``minutes`` is given, the same time limits.
    area, network
        Needed only when ``a``/``b`` are scenarios.
    minutes
        Time limits to compare (each must be in both results); default all of them.
    name_a, name_b
        Labels; default the scenario names (or ``"a"``/``"b"``).

    Returns
    -------
    Comparison
        ``compare(a, a)`` has every gain, loss, net change, share change, walking-time change
        and concentration-index change exactly 0.
    """
    from cnmap.coverage import CoverageResult

    def run(x: Any, label: str) -> CoverageResult:
        if isinstance(x, CoverageResult):
            return x
        if isinstance(x, Scenario):
            if area is None:
                raise ValidationError(f"{label} is a Scenario: pass area= (and network=) so that "
                                      "it can be run, or pass its CoverageResult")
            return x.run(area, network)
        raise ValidationError(f"{label} must be a CoverageResult or a Scenario, not "
                              f"{type(x).__name__}")

    ra = run(a, "a")
    rb = ra if b is a else run(b, "b")
    ts = _check_comparable(ra, rb, minutes)
    out = _compare_results(ra, rb, ts, name_a or _scenario_name(ra, "a"),
                           name_b or _scenario_name(rb, "b"))
    log.info("%s", out.summary())
    return out


def _load_network_for(sc: Scenario, lad_code: str) -> WalkNetwork:
    from cnmap.network import read_walk_network

    if sc.network_path is not None:
        return read_walk_network(sc.network_path)
    from cnmap.data import fetch

    return read_walk_network(fetch("osm_walk_network", lad_code=lad_code))


def compare_files(a_path: str | os.PathLike[str], b_path: str | os.PathLike[str], *,
                  out_dir: str | os.PathLike[str],
                  formats: Sequence[str] = ("csv", "xlsx", "gpkg")) -> Comparison:
    """Compare two scenario files and write the comparison tables (``cnmap compare``).

    The area comes from the files' ``[area]`` (``lad_code`` must agree), the walk network from
    ``[network] path`` or the data catalogue (``osm_walk_network``). Tables are written with
    :func:`cnmap.export.write_tables` (CSV files, ``comparison.xlsx`` with a README sheet,
    ``comparison.gpkg``); ``comparison_summary.txt`` holds :meth:`Comparison.summary`.
    """

    from cnmap.data import load_area

    a = Scenario.from_file(a_path)
    b = Scenario.from_file(b_path)
    lads = {s.lad_code for s in (a, b) if s.lad_code}
    if not lads:
        raise ValidationError(f"neither {a_path} nor {b_path} says which area: add [area] "
                              "lad_code = \"E08000025\" (for example) to the scenario files")
    if len(lads) > 1:
        raise ValidationError(f"the scenario files are for different areas {sorted(lads)}; "
                              "compare scenarios of one area")
    lad = lads.pop()
    if (a.lsoa_vintage, a.iod) != (b.lsoa_vintage, b.iod):
        raise ValidationError(f"the scenario files use different data (LSOA {a.lsoa_vintage} / "
                              f"IoD {a.iod} vs LSOA {b.lsoa_vintage} / IoD {b.iod})")
    if a.network_path and b.network_path and a.network_path != b.network_path:
        raise ValidationError(f"the scenario files use different networks ({a.network_path} vs "
                              f"{b.network_path}); compare on one network")
    area = load_area(lad, lsoa_vintage=a.lsoa_vintage, iod=a.iod)
    needs_net = any(s.mode == "network" or s.detour_factor is None for s in (a, b))
    net = _load_network_for(a if a.network_path else b, lad) if needs_net else None
    cmp = compare(a, b, area=area, network=net)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = cmp.tables()
    params = {"scenario_a": a.to_dict(), "scenario_b": b.to_dict(), "minutes": list(cmp.thresholds),
              "rank_by": cmp.params["rank_by"], "lad_code": lad}
    from cnmap.export import write_tables

    descriptions = {
        "totals": "Whole area, one row per time limit: people covered in A and B, gained, "
                  "lost, net change, shares, mean walking time and its change",
        "equity": "Concentration indices of coverage over the IMD rank for A and B "
                  "(standard, Wagstaff, Erreygers; negative = concentrated among the more "
                  "deprived) and coverage of the most and least deprived deciles",
        "deciles": "By IMD decile (1 = most deprived 10% in England): gained, lost, net "
                   "change, shares in A and B",
        "wards": "By ward: gained, lost, net change, shares in A and B, walking time change",
        "lsoas": "By LSOA: gained, lost, net change, shares in A and B, walking time change",
    }
    written = write_tables(tables, out, formats=tuple(formats), params=params,
                           sources=area.sources, stem="comparison",
                           descriptions=descriptions,
                           title=f"cnmap comparison: {cmp.name_b} against {cmp.name_a}",
                           notes=["Gains and losses are counted per residential point and "
                                  "then summed, so an LSOA can both gain and lose people."])
    log.info("compare_files: wrote %s", written)
    (out / "comparison_summary.txt").write_text(cmp.summary() + "\n", encoding="utf-8")
    return cmp


# ---------------------------------------------------------------------------------------------
# new sites


def _join_names(names: list[str], more: int) -> str:
    if more > 0:
        return ", ".join(names) + f" and {more} other ward{'s' if more > 1 else ''}"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _deciles_label(deciles: Sequence[int]) -> str:
    d = sorted(set(int(x) for x in deciles))
    if len(d) == 1:
        return f"IMD decile {d[0]}"
    if d == list(range(d[0], d[-1] + 1)):
        return f"IMD decile {d[0]}-{d[-1]}"
    return "IMD deciles " + ", ".join(map(str, d))


def _target_weights(cov: CoverageResult, weight: str, deprived_deciles: Sequence[int]
                    ) -> tuple[np.ndarray, str]:
    res = cov.residents
    w = res["weight"].to_numpy(float)
    if weight == "population":
        return w, "residents"
    if weight == "deprived_population":
        if not deprived_deciles:
            raise ValidationError("deprived_deciles is empty; give IMD deciles such as (1, 2)")
        bad = [d for d in deprived_deciles if not 1 <= int(d) <= 10]
        if bad:
            raise ValidationError(f"deprived_deciles {bad} are not IMD deciles (1 to 10)")
        if "imd_decile" in res.columns:
            dec = pd.to_numeric(res["imd_decile"], errors="coerce").to_numpy()
        else:
            L = cov.lsoas.set_index(C.LSOA_CODE)
            if "imd_decile" not in L.columns:
                raise MissingColumnError("weight='deprived_population' needs imd_decile on the "
                                         "LSOAs; load the area with cnmap.load_area")
            dec = pd.to_numeric(L["imd_decile"], errors="coerce").reindex(
                res[C.LSOA_CODE]).to_numpy()
        sel = np.isin(dec, [int(d) for d in deprived_deciles])
        return np.where(sel, w, 0.0), f"residents of {_deciles_label(deprived_deciles)} LSOAs"
    if weight in res.columns:
        v = pd.to_numeric(res[weight], errors="coerce").to_numpy(float)
        if not np.isfinite(v).all() or (v < 0).any():
            raise ValidationError(f"weight column {weight!r} of the residents must hold numbers "
                                  ">= 0 for every point")
        return v, f"{weight}"
    if weight in cov.lsoas.columns:
        L = cov.lsoas.set_index(C.LSOA_CODE)
        col = pd.to_numeric(L[weight], errors="coerce")
        pop = pd.to_numeric(L["population"], errors="coerce")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (col / pop).reindex(res[C.LSOA_CODE]).to_numpy(float)
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)
        if (ratio < 0).any():
            raise ValidationError(f"LSOA column {weight!r} has negative values")
        return w * ratio, f"{weight.replace('_', ' ')} (LSOA share of residents)"
    raise MissingColumnError(f"weight={weight!r} is not 'deprived_population', 'population', a "
                             "column of coverage.residents or a column of coverage.lsoas")


def _covered_by(B: Any, picks: Sequence[tuple[int, float]] | Sequence[int], n: int
                ) -> np.ndarray:
    cov = np.zeros(n, dtype=bool)
    for p in picks:
        j = p[0] if isinstance(p, tuple) else p
        cov[B.indices[B.indptr[j]:B.indptr[j + 1]]] = True
    return cov


def _greedy_order(B: Any, wt: np.ndarray, k: int, allowed: Iterable[int] | None = None,
                  forced: Sequence[int] = ()) -> list[tuple[int, float]]:
    """Greedy picks ``(candidate, gain)`` with positive gain, at most ``k``.

    The gains are recomputed exactly at every step (``B @ weights of the uncovered``): with
    non-negative weights, rounded sums are monotone, so the gains never increase. ``forced``
    sites count as already open (they are not listed).
    """
    n_c, n_p = B.shape
    mask = np.ones(n_c, dtype=bool) if allowed is None else np.zeros(n_c, dtype=bool)
    if allowed is not None:
        mask[list(allowed)] = True
    covered = _covered_by(B, list(forced), n_p)
    mask[list(forced)] = False
    out: list[tuple[int, float]] = []
    for _ in range(k):
        if n_c == 0:
            break
        gains = B @ np.where(covered, 0.0, wt)
        gains[~mask] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        out.append((j, float(gains[j])))
        mask[j] = False
        covered[B.indices[B.indptr[j]:B.indptr[j + 1]]] = True
    return out


def _interchange(B: Any, wt: np.ndarray, picks: Sequence[tuple[int, float]],
                 max_rounds: int = 200) -> tuple[list[int], int]:
    """Improve a set of sites by single swaps (one chosen site for one other candidate) while
    a swap covers more target weight (vertex-substitution local search)."""
    chosen = [j for j, _ in picks]
    n_p = B.shape[1]
    cnt = np.zeros(n_p, dtype=np.int64)
    for j in chosen:
        cnt[B.indices[B.indptr[j]:B.indptr[j + 1]]] += 1
    tol = 1e-9 * max(1.0, float(wt.sum()))
    swaps = 0
    for _ in range(max_rounds):
        best = (tol, -1, -1)
        for pos, s in enumerate(chosen):
            cols = B.indices[B.indptr[s]:B.indptr[s + 1]]
            loss = float(wt[cols[cnt[cols] == 1]].sum())
            after = cnt.copy()
            after[cols] -= 1
            gains = B @ np.where(after == 0, wt, 0.0)
            gains[chosen] = -np.inf
            c = int(np.argmax(gains))
            delta = float(gains[c]) - loss
            if delta > best[0]:
                best = (delta, pos, c)
        if best[1] < 0:
            break
        _, pos, c = best
        s = chosen[pos]
        cnt[B.indices[B.indptr[s]:B.indptr[s + 1]]] -= 1
        cnt[B.indices[B.indptr[c]:B.indptr[c + 1]]] += 1
        chosen[pos] = c
        swaps += 1
    return chosen, swaps


def suggest_sites(coverage: CoverageResult, candidates: Any, k: int, *,
                  minutes: float | None = None, weight: str = "deprived_population",
                  deprived_deciles: Sequence[int] = (1, 2), id_col: str | None = None,
                  name_col: str | None = None, improve: bool = True, restarts: int = 10,
                  max_wards_named: int = 3) -> gpd.GeoDataFrame:
    """The next ``k`` best sites: greedy maximal coverage of the residents still out of reach.

    Each step adds the candidate that brings the most *target* people within ``minutes`` who
    are not covered by the existing organisations (nor by the sites already picked). Target
    people are weighted by ``weight``. The objective (people covered) is monotone submodular,
    so the greedy gains never increase from one pick to the next and the greedy total is at
    least ``1 - 1/e`` (63%) of the optimum. With ``improve=True`` (default) the greedy set is
    then improved by single swaps (one picked site for another candidate) while a swap covers
    more target people, also starting from the ``restarts`` best single sites, and the best set
    found is listed in greedy order, so the gains still never increase. ``docs/scenarios.md`` reports the gaps to the exact optimum measured with an
    integer-programming solver.

    Parameters
    ----------
    coverage
        The current coverage (:func:`cnmap.coverage.coverage`); its residents, network,
        speed and snapping limit are used.
    candidates
        Candidate venues: an OrganisationTable or GeoDataFrame of points (warm spaces,
        libraries, community buildings...).
    k
        Number of sites to pick (fewer rows when no candidate adds anyone).
    minutes
        Time limit; default the coverage's headline (15 if present).
    weight
        ``"deprived_population"`` (people in LSOAs of ``deprived_deciles``), ``"population"``,
        a numeric column of ``coverage.residents`` (people per point), or a count column of
        ``coverage.lsoas`` (e.g. ``"pop_60_plus"``, spread over the LSOA's points in proportion
        to their people).
    deprived_deciles
        IMD deciles counted as deprived (1 = most deprived 10% in England).
    id_col, name_col
        Candidate id and name columns (default ``org_id``/``name`` when present).
    improve
        Improve the greedy set by single swaps (see above). False: the plain greedy picks, which
        are nested (the first 3 of ``k=5`` are the picks for ``k=3``); True: a set at least as
        good, not necessarily nested.
    restarts
        With ``improve``: also start the greedy + swaps from each of the ``restarts``
        candidates with the largest gain on their own as the first pick, and keep the best set.
    max_wards_named
        Wards named in ``why``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pick: ``rank``, ``candidate_id``, ``name``, ``gain`` (target people newly
        covered), ``people_newly_covered`` (all residents newly covered), ``cumulative_gain``,
        ``share_of_target`` (cumulative share of the target people out of reach),
        ``share_covered_after`` (share of all residents covered with the picks so far),
        ``why``, ``wards``, geometry. ``.attrs["params"]`` records the parameters, the plain
        greedy total (``greedy_total``), the final ``total`` and the number of swaps.
    """
    from cnmap.coverage import CoverageResult
    from cnmap.reach import crow_flies_reach_matrix, reach_matrix

    if not isinstance(coverage, CoverageResult):
        raise ValidationError("suggest_sites needs a CoverageResult (cnmap.coverage.coverage), "
                              f"not {type(coverage).__name__}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValidationError(f"k={k!r} must be a whole number of sites >= 1")
    if isinstance(restarts, bool) or not isinstance(restarts, int | np.integer) or restarts < 0:
        raise ValidationError(f"restarts={restarts!r} must be a whole number >= 0")
    t = coverage.headline_minutes if minutes is None else minutes
    if t not in coverage.thresholds:
        raise ValidationError(f"minutes={t} is not among the coverage's time limits "
                              f"{list(coverage.thresholds)}; run coverage(..., minutes=[..., {t}])")
    cand = getattr(candidates, "organisations", candidates)
    if not isinstance(cand, gpd.GeoDataFrame):
        raise ValidationError("candidates must be an OrganisationTable or a GeoDataFrame of "
                              f"points, not {type(candidates).__name__}")
    if len(cand) == 0:
        raise ValidationError("there are no candidate sites")
    if cand.crs is None:
        from cnmap.errors import CRSError

        raise CRSError("the candidates have no CRS; set it (e.g. .set_crs('EPSG:4326'))")
    cand = cand.to_crs(C.BNG).reset_index(drop=True)
    for col, what in ((id_col, "id_col"), (name_col, "name_col")):
        if col is not None and col not in cand.columns:
            raise MissingColumnError(f"{what}={col!r} is not a column of the candidates "
                                     f"(columns: {list(cand.columns)})")
    icol = id_col or (C.ORG_ID if C.ORG_ID in cand.columns else None)
    ids = cand[icol].astype(str).to_numpy() if icol else np.array([str(i) for i in cand.index])
    ncol = name_col or (C.NAME if C.NAME in cand.columns else None)
    names = cand[ncol].astype(str).to_numpy() if ncol else ids

    res = coverage.residents
    wt_all, target_label = _target_weights(coverage, weight, deprived_deciles)
    placed = res["placed"].to_numpy(bool) if "placed" in res.columns else np.ones(len(res), bool)
    uncovered = ~res[f"covered_{t}min"].to_numpy(bool)
    tgt = np.flatnonzero(uncovered & placed & (wt_all > 0))
    target_total = float(wt_all[uncovered & (wt_all > 0)].sum())
    metres = coverage.metres(t)
    max_snap = float(coverage.params.get("max_snap_m", 500.0))
    if tgt.size:
        pts = res.iloc[tgt].geometry
        if coverage.mode == "network":
            if coverage.network is None:
                raise ValidationError("this coverage result has no network attached; recompute "
                                      "it with coverage(..., network=net)")
            Rm = reach_matrix(coverage.network, cand.geometry, pts, cutoff_m=metres,
                              max_snap_m=max_snap)
        else:
            Rm = crow_flies_reach_matrix(cand.geometry, pts, cutoff_m=metres,
                                         detour_factor=float(coverage.params.get("detour_factor")
                                                             or 1.0))
    else:
        from scipy import sparse

        Rm = sparse.csr_matrix((len(cand), 0))
    B = Rm.copy()
    B.data = np.ones_like(B.data)
    wt = wt_all[tgt]
    w_people = res["weight"].to_numpy(float)[tgt]
    ward_of = res[C.WARD_CODE].to_numpy()[tgt]
    ward_names = coverage.wards.set_index(C.WARD_CODE)[C.WARD_NAME].to_dict() \
        if C.WARD_NAME in coverage.wards.columns else {}
    pop_total = float(res["weight"].sum())
    pop_covered = float(res["weight"].to_numpy(float)[~uncovered].sum())

    picks = _greedy_order(B, wt, int(k))
    greedy_total = float(wt[_covered_by(B, picks, tgt.size)].sum())
    n_swaps = 0
    if improve and len(picks) == int(k) and len(cand) > len(picks):
        best_set, best_val = [j for j, _ in picks], greedy_total
        # restarts: greedy forced to open with each of the best first picks, then swaps
        first = B @ wt
        starts = [int(x) for x in np.argsort(-first, kind="stable")[:restarts] if first[x] > 0]
        for st in starts or [picks[0][0]]:
            rest = _greedy_order(B, wt, int(k) - 1, forced=[st])
            seed_set = [st] + [j for j, _ in rest]
            if len(seed_set) < int(k):
                continue
            chosen_set, ns = _interchange(B, wt, [(j, 0.0) for j in seed_set])
            val = float(wt[_covered_by(B, chosen_set, tgt.size)].sum())
            n_swaps += ns
            if val > best_val + 1e-9 * max(1.0, target_total):
                best_set, best_val = chosen_set, val
        picks = _greedy_order(B, wt, len(best_set), allowed=best_set)
    covered = np.zeros(tgt.size, dtype=bool)
    rows: list[dict[str, Any]] = []
    cum, cum_people = 0.0, 0.0
    stopped = ""
    if len(picks) < int(k):
        stopped = (f"stopped after {len(picks)} site(s): no other candidate brings any target "
                   f"resident within {t:g} minutes")
    for rank, (j, gain) in enumerate(picks, start=1):
        cols = B.indices[B.indptr[j]:B.indptr[j + 1]]
        newly = cols[~covered[cols]]
        people = float(w_people[newly].sum())
        covered[newly] = True
        cum += gain
        cum_people += people
        by_ward = pd.Series(wt[newly], index=ward_of[newly]).groupby(level=0).sum()
        by_ward = by_ward[by_ward > 0].sort_values(ascending=False)
        wn = [str(ward_names.get(c, c)) for c in by_ward.index]
        where = _join_names(wn[:max_wards_named], max(0, len(wn) - max_wards_named))
        extra = f" ({people:,.0f} residents in all)" if weight != "population" and \
            abs(people - gain) > 0.5 else ""
        why = (f"covers {gain:,.0f} {target_label}{extra} not within {t:g} minutes of any "
               "organisation" + (" or an earlier pick" if rank > 1 else "") + f", in {where}")
        rows.append({"rank": rank, "candidate_id": ids[j], "name": names[j], "gain": gain,
                     "people_newly_covered": people, "cumulative_gain": cum,
                     "share_of_target": cum / target_total if target_total else np.nan,
                     "share_covered_after": (pop_covered + cum_people) / pop_total
                     if pop_total else np.nan,
                     "why": why, "wards": "; ".join(wn), "_pos": j})
    if len(rows) < k and not stopped:
        stopped = f"only {len(rows)} candidate(s) available"
    cols_out = ["rank", "candidate_id", "name", "gain", "people_newly_covered", "cumulative_gain",
                "share_of_target", "share_covered_after", "why", "wards"]
    df = pd.DataFrame(rows, columns=[*cols_out, "_pos"]).astype(
        {"rank": int, "gain": float, "people_newly_covered": float, "cumulative_gain": float,
         "share_of_target": float, "share_covered_after": float, "_pos": int})
    out = gpd.GeoDataFrame(df[cols_out], geometry=cand.geometry.to_numpy()[df["_pos"].to_numpy(int)]
                           if len(df) else [], crs=C.BNG)
    n_unplaced = 0
    if coverage.mode == "network" and coverage.network is not None:
        from cnmap.network import snap_points

        n_unplaced = int((~snap_points(coverage.network, cand.geometry,
                                       max_snap_m=max_snap).ok).sum())
        if n_unplaced:
            log.warning("suggest_sites: %d of %d candidates are farther than %.0f m from any "
                        "walkable street and cannot be picked", n_unplaced, len(cand), max_snap)
    out.attrs["params"] = {
        "k": int(k), "minutes": t, "metres": metres, "weight": weight,
        "deprived_deciles": [int(d) for d in deprived_deciles]
        if weight == "deprived_population" else None,
        "target": target_label, "target_total": target_total,
        "target_points": int(tgt.size), "n_candidates": int(len(cand)),
        "n_candidates_unplaced": n_unplaced, "mode": coverage.mode,
        "speed_kmh": coverage.speed_kmh, "max_snap_m": max_snap, "stopped": stopped,
        "method": "greedy maximal coverage" + (f" + interchange ({restarts} restarts)"
                                                 if improve else ""),
        "greedy_total": greedy_total, "total": cum, "n_swaps": n_swaps,
    }
    if stopped:
        log.info("suggest_sites: %s", stopped)
    log.info("suggest_sites: %d picks cover %.0f of %.0f %s out of reach", len(out), cum,
             target_total, target_label)
    return out

"""Who is served: the share of each group of residents within walking reach, and by whom.

Coverage (:func:`cnmap.coverage.coverage`) walks from residential points, each carrying a share
of its LSOA's population. Need layers (:mod:`cnmap.layers`) count residents (or households) by
group in each LSOA. :func:`group_coverage` apportions each LSOA's group counts to the LSOA's
residential points in proportion to the points' weights, so that a group's residents are
covered in an LSOA in the same proportion as its residents as a whole::

    covered(group, T) = sum over LSOAs l of  count(group, l) * s(l, T)
    s(l, T) = (weight of l's points within T minutes) / (weight of all l's points)

(an LSOA whose points all weigh 0 shares equally among its points; an LSOA with no point is
not covered). Within an LSOA every group is assumed spread like the residents: the differences
between groups come from where the groups live, LSOA by LSOA.

- :func:`group_coverage`: tidy table ``layer``, ``group``, ``minutes``, ``residents``,
  ``covered``, ``share_covered``, ``gap_vs_all``;
- :func:`compare_group_coverage`: the same for two results, with who gains and who loses;
- :func:`organisation_attributes`: BAME-led, size band, network membership and services as
  filter columns of an organisations table;
- :func:`provision_vs_need`: where coverage by some organisations is against where the group
  they serve lives (bands of LSOAs by need, coverage ratio, rank correlation).

Everything here is pure: no file is read, no input is changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import shapely

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import MissingLSOAError, NeedLayer, _codes_text

if TYPE_CHECKING:
    from cnmap.coverage import CoverageResult

__all__ = [
    "group_coverage",
    "compare_group_coverage",
    "organisation_attributes",
    "provision_vs_need",
    "ProvisionNeed",
    "GROUP_COLUMNS",
    "COMPARE_COLUMNS",
    "ATTRIBUTE_COLUMNS",
]

#: Columns of :func:`group_coverage`'s table.
GROUP_COLUMNS: tuple[str, ...] = (
    "layer",
    "group",
    "label",
    "kind",
    "unit",
    "minutes",
    "residents",
    "covered",
    "not_covered",
    "share_covered",
    "gap_vs_all",
)
#: Columns of :func:`compare_group_coverage`'s table.
COMPARE_COLUMNS: tuple[str, ...] = (
    "layer",
    "group",
    "label",
    "kind",
    "unit",
    "minutes",
    "residents",
    "covered_a",
    "covered_b",
    "share_covered_a",
    "share_covered_b",
    "share_change",
    "gained",
    "lost",
    "net_change",
    "gap_vs_all_a",
    "gap_vs_all_b",
)


# ---------------------------------------------------------------------------------------------
# apportioning LSOA counts to residential points


@dataclass(frozen=True)
class _Points:
    """Residential points of a result: LSOA position and share of their LSOA's residents."""

    codes: pd.Index
    lsoa: np.ndarray
    fraction: np.ndarray


def _points(result: CoverageResult) -> _Points:
    res = result.residents
    for col in (C.LSOA_CODE, "weight"):
        if col not in res.columns:
            raise MissingColumnError(f"the coverage result's residents have no {col!r} column")
    point_codes = res[C.LSOA_CODE].astype(str).to_numpy()
    area_codes = (
        result.lsoas[C.LSOA_CODE].astype(str)
        if C.LSOA_CODE in result.lsoas.columns
        else pd.Series([], dtype=str)
    )
    codes = pd.Index(pd.unique(np.concatenate([area_codes.to_numpy(), point_codes])))
    lsoa = codes.get_indexer(point_codes)
    w = pd.to_numeric(res["weight"], errors="coerce").to_numpy(float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ValidationError("the coverage result's residents have blank or negative weights")
    tot = np.bincount(lsoa, weights=w, minlength=len(codes))
    size = np.bincount(lsoa, minlength=len(codes)).astype(float)
    frac = np.where(tot[lsoa] > 0, w / np.where(tot[lsoa] > 0, tot[lsoa], 1.0), 1.0 / size[lsoa])
    return _Points(codes=codes, lsoa=lsoa, fraction=frac)


def _lsoa_share(p: _Points, mask: np.ndarray) -> np.ndarray:
    """Share of each LSOA's residents on the points where ``mask`` is true."""
    return np.bincount(p.lsoa, weights=p.fraction * mask.astype(float), minlength=len(p.codes))


def _covered(result: CoverageResult, minutes: int | float) -> np.ndarray:
    col = f"covered_{minutes}min"
    if col not in result.residents.columns:
        raise MissingColumnError(f"the coverage result's residents have no {col!r} column")
    return cast(np.ndarray, result.residents[col].to_numpy(bool))


def _minutes(results: Sequence[CoverageResult], minutes: Any) -> tuple[int | float, ...]:
    common = [t for t in results[0].thresholds if all(t in r.thresholds for r in results[1:])]
    if minutes is None:
        if not common:
            raise ValidationError("the results share no time limit; pass minutes=")
        return tuple(common)
    wanted = [minutes] if np.isscalar(minutes) else list(minutes)
    out: list[int | float] = []
    for m in wanted:
        if isinstance(m, bool) or not isinstance(m, int | float | np.integer | np.floating):
            raise ValidationError(f"minutes={m!r} is not a number of minutes")
        match = [t for t in common if np.isclose(float(t), float(m))]
        if not match:
            raise ValidationError(
                f"minutes={m!r} is not among the time limits of the coverage "
                f"result(s) {list(common)}"
            )
        out.append(match[0])
    if not out:
        raise ValidationError("minutes is empty: give one or more of the result's time limits")
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# the layers' group counts on the result's LSOAs


@dataclass(frozen=True)
class _Group:
    layer: str
    group: str
    label: str
    kind: str
    unit: str
    total: str


def _layer_list(layers: NeedLayer | Sequence[NeedLayer]) -> list[NeedLayer]:
    out = [layers] if isinstance(layers, NeedLayer) else list(layers)
    if not out:
        raise ValidationError("no need layer given")
    for ly in out:
        if not isinstance(ly, NeedLayer):
            raise ValidationError(
                f"layers must be NeedLayer objects (cnmap.layers), not {type(ly).__name__}"
            )
        if ly.total is None:
            raise ValidationError(
                f"need layer {ly.name!r} holds scores, not counts of people; "
                "make groups from a score with cnmap.layers.score_bands"
            )
    return out


def _counts(
    layers: list[NeedLayer], codes: pd.Index, vintage: Any, groups: Iterable[str] | None
) -> tuple[list[_Group], np.ndarray]:
    """The groups (totals first in each layer) and their counts: an LSOAs x groups matrix."""
    wanted = None if groups is None else set(groups)
    specs: list[_Group] = []
    cols: list[np.ndarray] = []
    for ly in layers:
        if vintage is not None and ly.lsoa_vintage != vintage:
            raise ValidationError(
                f"need layer {ly.name!r} is on LSOA {ly.lsoa_vintage} but the coverage result "
                f"on LSOA {vintage}; convert it first (cnmap.layers.convert_layer or join_layers)"
            )
        table = ly.subset(codes).table
        assert ly.total is not None
        kinds = [
            (ly.total, "all"),
            *((g, "group") for g in ly.groups),
            *((g, "combined") for g in ly.combined),
        ]
        for col, kind in kinds:
            if kind != "all" and wanted is not None and col not in wanted:
                continue
            specs.append(_Group(ly.name, col, ly.label(col), kind, ly.unit, ly.total))
            cols.append(table[col].to_numpy(float))
    if wanted is not None:
        known = {g.group for g in specs}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValidationError(f"groups {unknown} are not count columns of the layers given")
    return specs, np.column_stack(cols)


def _vintage(result: CoverageResult) -> Any:
    v = result.params.get("lsoa_vintage") if isinstance(result.params, Mapping) else None
    if v is None and result.area is not None:
        v = result.area.lsoa_vintage
    return v


def _gap(frame: pd.DataFrame, share: str) -> np.ndarray:
    """Share of each row minus the share of its layer's total row (same minutes)."""
    key = ["layer", "minutes"]
    totals = frame.loc[frame["kind"] == "all"].set_index(key)[share]
    ref = totals.reindex(pd.MultiIndex.from_frame(frame[key])).to_numpy(float)
    return cast(np.ndarray, frame[share].to_numpy(float) - ref)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# ---------------------------------------------------------------------------------------------
# group coverage


def group_coverage(
    result: CoverageResult,
    layers: NeedLayer | Sequence[NeedLayer],
    *,
    minutes: Any = None,
    groups: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Share of each group's residents within each time limit of a coverage result.

    Parameters
    ----------
    result
        A coverage result (:func:`cnmap.coverage.coverage`).
    layers
        Count layers on the result's LSOA vintage, with a row for each of its LSOAs (e.g. from
        :func:`cnmap.layers.read_ethnic_group`, :func:`cnmap.layers.score_bands`).
    minutes
        Time limits to report (default: all the result's).
    groups
        Count columns to report (default: every group and combined group); each layer's total
        is always reported, as the reference of ``gap_vs_all``.

    Returns
    -------
    pandas.DataFrame
        One row per layer, group and time limit: ``layer``, ``group`` (the count column),
        ``label``, ``kind`` (``all``, ``group`` or ``combined``), ``unit`` (residents or
        households), ``minutes``, ``residents`` (the group's count in the area), ``covered``,
        ``not_covered``, ``share_covered`` and ``gap_vs_all`` (the group's share minus the
        share of all the layer's residents, so -0.05 means 5 points less often within reach).
    """
    ts = _minutes([result], minutes)
    p = _points(result)
    specs, counts = _counts(_layer_list(layers), p.codes, _vintage(result), groups)
    residents = counts.sum(axis=0)
    rows: list[dict[str, Any]] = []
    for t in ts:
        covered = _lsoa_share(p, _covered(result, t)) @ counts
        for g, n, c in zip(specs, residents, covered, strict=True):
            rows.append(
                {
                    "layer": g.layer,
                    "group": g.group,
                    "label": g.label,
                    "kind": g.kind,
                    "unit": g.unit,
                    "minutes": t,
                    "residents": n,
                    "covered": c,
                    "not_covered": n - c,
                }
            )
    out = pd.DataFrame(rows)
    out["share_covered"] = _ratio(out["covered"].to_numpy(float), out["residents"].to_numpy(float))
    out["gap_vs_all"] = _gap(out, "share_covered")
    return out[list(GROUP_COLUMNS)]


def _check_same_residents(a: CoverageResult, b: CoverageResult) -> None:
    ra, rb = a.residents, b.residents
    same = len(ra) == len(rb)
    if same:
        same = np.array_equal(
            ra[C.LSOA_CODE].astype(str).to_numpy(), rb[C.LSOA_CODE].astype(str).to_numpy()
        ) and np.allclose(ra["weight"].to_numpy(float), rb["weight"].to_numpy(float))
    if not same:
        raise ValidationError(
            f"the two results place the residents differently (a: {len(ra):,} "
            f"points, b: {len(rb):,}); run both with the same area and "
            "residents="
        )
    if _vintage(a) != _vintage(b):
        raise ValidationError(
            f"the two results are on different LSOA vintages ({_vintage(a)} vs {_vintage(b)})"
        )


def compare_group_coverage(
    a: CoverageResult,
    b: CoverageResult,
    layers: NeedLayer | Sequence[NeedLayer],
    *,
    minutes: Any = None,
    groups: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Group coverage of two results on the same residents: who gains, who loses.

    Parameters
    ----------
    a, b
        Coverage results of two scenarios (before, after) with the same residential points.
    layers, groups
        As for :func:`group_coverage`.
    minutes
        Time limits to report (default: those both results have).

    Returns
    -------
    pandas.DataFrame
        One row per layer, group and time limit: ``residents``, ``covered_a``, ``covered_b``,
        ``share_covered_a``, ``share_covered_b``, ``share_change`` (b - a), ``gained`` (the
        group's residents within reach in b but not in a), ``lost`` (in a but not in b),
        ``net_change`` (gained - lost) and ``gap_vs_all_a``, ``gap_vs_all_b``.
    """
    _check_same_residents(a, b)
    ts = _minutes([a, b], minutes)
    p = _points(a)
    specs, counts = _counts(_layer_list(layers), p.codes, _vintage(a), groups)
    residents = counts.sum(axis=0)
    rows: list[dict[str, Any]] = []
    for t in ts:
        ca, cb = _covered(a, t), _covered(b, t)
        cov_a, cov_b = _lsoa_share(p, ca) @ counts, _lsoa_share(p, cb) @ counts
        gained, lost = _lsoa_share(p, cb & ~ca) @ counts, _lsoa_share(p, ca & ~cb) @ counts
        for i, g in enumerate(specs):
            rows.append(
                {
                    "layer": g.layer,
                    "group": g.group,
                    "label": g.label,
                    "kind": g.kind,
                    "unit": g.unit,
                    "minutes": t,
                    "residents": residents[i],
                    "covered_a": cov_a[i],
                    "covered_b": cov_b[i],
                    "gained": gained[i],
                    "lost": lost[i],
                }
            )
    out = pd.DataFrame(rows)
    n = out["residents"].to_numpy(float)
    out["share_covered_a"] = _ratio(out["covered_a"].to_numpy(float), n)
    out["share_covered_b"] = _ratio(out["covered_b"].to_numpy(float), n)
    out["share_change"] = out["share_covered_b"] - out["share_covered_a"]
    out["net_change"] = out["gained"] - out["lost"]
    out["gap_vs_all_a"] = _gap(out, "share_covered_a")
    out["gap_vs_all_b"] = _gap(out, "share_covered_b")
    return out[list(COMPARE_COLUMNS)]


# ---------------------------------------------------------------------------------------------
# organisation attributes

#: Columns added by :func:`organisation_attributes`.
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "is_bame_led",
    "size_band",
    "size_basis",
    "is_pioneer_place",
    "in_neighbourhood_network_scheme",
    "is_community_anchor",
    "offers_food",
    "offers_advice",
    "offers_digital_support",
    "offers_health",
)

_BAME_LED_COLUMNS = ("bame_led", "bme_led", "is_bame_led", "bame-led")
_LED_BY_COLUMNS = ("led_by", "community_led", "led_by_community")
_BAME_TERMS = re.compile(
    r"\bbame\b|\bbme\b|black|asian|minority ethnic|ethnic minorit|"
    r"global majority|people of colour",
    re.I,
)
_YES = {"yes", "y", "true", "1", "t"}
_NO = {"no", "n", "false", "0", "f"}
_NETWORK_COLUMNS = (
    "kind",
    C.ORG_TYPE,
    "types_list",
    "network",
    "networks",
    "membership",
    "memberships",
    "partnerships",
    C.SERVICES,
    "services_list",
    C.NAME,
)
_SERVICE_COLUMNS = (C.SERVICES, "services_list", C.ORG_TYPE, "types_list", "kind")
_NETWORKS = {
    "is_pioneer_place": re.compile(r"pioneer[\s_-]*places?\b", re.I),
    "in_neighbourhood_network_scheme": re.compile(
        r"neighbourhood[\s_-]*network[\s_-]*schemes?|\bnns\b", re.I
    ),
    "is_community_anchor": re.compile(r"community[\s_-]*anchor", re.I),
}
_SERVICES = {
    "offers_food": re.compile(r"food|meal|pantry|kitchen|\bsoup\b|grocer|lunch|breakfast", re.I),
    "offers_advice": re.compile(
        r"advice|advis|money|debt|benefit|welfare|legal|"
        r"employment support|citizens",
        re.I,
    ),
    "offers_digital_support": re.compile(
        r"digital|computer|online|internet|wi-?fi|laptop|"
        r"tablet|device|\bit (?:skills|support)",
        re.I,
    ),
    "offers_health": re.compile(
        r"health|well-?being|mental|recovery|\bgp\b|\bnhs\b|disabilit|"
        r"physical activity|drug|alcohol",
        re.I,
    ),
}
#: NCVO income bands (annual income, GBP) and employer size classes (paid staff).
INCOME_BANDS: tuple[tuple[float, str], ...] = (
    (1e4, "micro (under £10k)"),
    (1e5, "small (£10k-£100k)"),
    (1e6, "medium (£100k-£1m)"),
    (1e7, "large (£1m-£10m)"),
    (1e8, "major (£10m-£100m)"),
    (np.inf, "super-major (£100m+)"),
)
STAFF_BANDS: tuple[tuple[float, str], ...] = (
    (1, "no paid staff"),
    (10, "1-9 staff"),
    (50, "10-49 staff"),
    (250, "50-249 staff"),
    (np.inf, "250+ staff"),
)
_INCOME_COLUMNS = ("income", "annual_income", "income_gbp", "latest_income", "total_income")
_STAFF_COLUMNS = ("staff", "employees", "staff_count", "paid_staff", "n_staff")
_SIZE_COLUMNS = ("size_band", "size")


def _first(frame: pd.DataFrame, names: Iterable[str]) -> str | None:
    lower = {str(c).lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, list | tuple | set | np.ndarray):
        return "; ".join(_text(v) for v in value)
    return str(value).strip()


def _row_text(frame: pd.DataFrame, names: Iterable[str]) -> pd.Series:
    cols = [c for c in (_first(frame, [n]) for n in names) if c is not None]
    if not cols:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [frame[c].map(_text) for c in cols]
    return pd.concat(parts, axis=1).agg(" | ".join, axis=1).str.strip(" |")


def _bame_led(frame: pd.DataFrame) -> pd.Series:
    out = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    col = _first(frame, _BAME_LED_COLUMNS)
    if col is not None:
        v = frame[col].map(_text).str.lower()
        out[v.isin(_YES)] = True
        out[v.isin(_NO)] = False
    led = _first(frame, _LED_BY_COLUMNS)
    if led is not None:
        t = frame[led].map(_text)
        known = out.isna() & (t != "")
        out[known] = t[known].str.contains(_BAME_TERMS)
    return out


def _flags(
    text: pd.Series, patterns: Mapping[str, re.Pattern[str]], blank_is_unknown: bool
) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for name, pat in patterns.items():
        s = text.str.contains(pat).astype("boolean")
        if blank_is_unknown:
            s[text == ""] = pd.NA
        out[name] = s
    return out


def _band(values: pd.Series, bands: Sequence[tuple[float, str]]) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    labels = [lab for _, lab in bands]
    idx = np.searchsorted(np.array([u for u, _ in bands]), v, side="right")
    ok = np.isfinite(v) & (v >= 0)
    out = pd.Series(
        [
            labels[i] if o else None
            for i, o in zip(np.minimum(idx, len(labels) - 1), ok, strict=True)
        ],
        index=values.index,
        dtype=object,
    )
    return out


def _size(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    band = pd.Series(None, index=frame.index, dtype=object)
    basis = pd.Series(None, index=frame.index, dtype=object)
    for names, kind in (
        (_SIZE_COLUMNS, "given"),
        (_INCOME_COLUMNS, "income"),
        (_STAFF_COLUMNS, "staff"),
    ):
        col = _first(frame, names)
        if col is None:
            continue
        if kind == "given":
            given = frame[col].map(_text)
            b = given.where(given != "", None)
        else:
            b = _band(frame[col], INCOME_BANDS if kind == "income" else STAFF_BANDS)
        fill = band.isna() & b.notna()
        band[fill] = b[fill]
        basis[fill] = kind
    return band, basis


def organisation_attributes(orgs: pd.DataFrame) -> pd.DataFrame:
    """The attributes the report cares about, as filter columns (a copy; input unchanged).

    Read from the columns present (case-insensitive); absent information is ``<NA>``, never a
    guess.

    - ``is_bame_led`` (nullable boolean): ``bame_led``/``bme_led`` yes/no, else a ``led_by``
      text naming Black, Asian or minority ethnic communities; ``unknown`` stays ``<NA>``;
    - ``size_band``, ``size_basis``: a given ``size_band``/``size``, else NCVO income bands from
      ``income``/``annual_income``..., else paid-staff bands from ``staff``/``employees``...;
    - ``is_pioneer_place``, ``in_neighbourhood_network_scheme``, ``is_community_anchor``: named
      in ``kind``, ``type``, ``network(s)``, ``membership``, ``services`` or the name (False
      means "not recorded as such");
    - ``offers_food``, ``offers_advice``, ``offers_digital_support``, ``offers_health``: keywords
      in ``services``/``services_list``/``type``/``kind`` (``<NA>`` when the row has none).

    Parameters
    ----------
    orgs
        Organisations (e.g. :func:`cnmap.read_organisations`'s table, or a frame read from the
        report's ``seed_organisations.csv``).

    Returns
    -------
    pandas.DataFrame
        ``orgs`` (same type) with the columns of :data:`ATTRIBUTE_COLUMNS` added. Nullable
        booleans filter directly: ``orgs[orgs["offers_food"]]`` keeps the True rows.
    """
    frame = getattr(orgs, "organisations", orgs)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"orgs must be a table of organisations, not {type(orgs).__name__}")
    clash = [c for c in ATTRIBUTE_COLUMNS if c in frame.columns and c != "size_band"]
    if clash:
        raise ValidationError(f"organisations already have columns {clash}; drop them first")
    out = frame.copy()
    out["is_bame_led"] = _bame_led(frame)
    out["size_band"], out["size_basis"] = _size(frame)
    for name, s in _flags(_row_text(frame, _NETWORK_COLUMNS), _NETWORKS, False).items():
        out[name] = s
    for name, s in _flags(_row_text(frame, _SERVICE_COLUMNS), _SERVICES, True).items():
        out[name] = s
    return out


# ---------------------------------------------------------------------------------------------
# provision against need


@dataclass(frozen=True)
class ProvisionNeed:
    """Coverage by some organisations against where the group they serve lives.

    Attributes
    ----------
    bands
        One row per band of LSOAs by the group's share of residents (band 1 = highest share):
        ``band``, ``n_lsoas``, ``min_group_share``, ``max_group_share``, ``residents``,
        ``group_residents``, ``group_share``, ``share_of_group_residents``,
        ``covered``, ``share_covered``, ``group_covered``, ``share_group_covered``,
        ``n_organisations``, ``share_of_organisations``.
    summary
        ``group_residents``, ``share_group_covered``, ``share_others_covered``,
        ``coverage_ratio`` (group / others), ``spearman_lsoa`` (rank correlation across LSOAs of
        the group's share and the share covered), ``weighted_pearson_lsoa`` (the same,
        population-weighted, linear), ``n_organisations``, ``share_organisations_top_band``,
        ``share_group_top_band`` and ``location_quotient_top_band`` (their ratio: above 1, the
        organisations are more concentrated than the group in its highest-share LSOAs).
    params
        The layer, group, total, time limit and number of bands.
    """

    bands: pd.DataFrame
    summary: pd.Series
    params: dict[str, Any] = field(default_factory=dict)


def _need_bands(share: np.ndarray, bands: int) -> np.ndarray:
    order = pd.Series(share).rank(method="first", ascending=False).to_numpy()
    return cast(np.ndarray, np.ceil(order * bands / len(share)).astype(int))


def _org_lsoas(result: CoverageResult, codes: pd.Index) -> np.ndarray:
    """Position in ``codes`` of the LSOA holding each placed organisation (-1: none)."""
    orgs, lsoas = result.organisations, result.lsoas
    if "geometry" not in lsoas.columns or len(orgs) == 0:
        return np.full(len(orgs), -1)
    if "snapped" in orgs.columns:
        orgs = orgs.loc[orgs["snapped"].to_numpy(bool)]
    polys = (
        lsoas[[C.LSOA_CODE, "geometry"]].to_crs(orgs.crs)
        if orgs.crs is not None and lsoas.crs is not None
        else lsoas[[C.LSOA_CODE, "geometry"]]
    )
    tree = shapely.STRtree(polys.geometry.values)
    pidx, lidx = tree.query(orgs.geometry.values, predicate="intersects")
    out = np.full(len(orgs), -1)
    first = np.unique(pidx, return_index=True)[1]
    out[pidx[first]] = codes.get_indexer(polys[C.LSOA_CODE].astype(str).to_numpy()[lidx[first]])
    return out


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if w.sum() <= 0:
        return float("nan")
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    den = np.sqrt(np.average((x - mx) ** 2, weights=w) * np.average((y - my) ** 2, weights=w))
    return float(cov / den) if den > 0 else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _band_table(
    band: np.ndarray,
    share: np.ndarray,
    total: np.ndarray,
    group: np.ndarray,
    s: np.ndarray,
    org_band: np.ndarray,
    bands: int,
) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "band": band,
            "share": share,
            "residents": total,
            "group_residents": group,
            "covered": total * s,
            "group_covered": group * s,
        }
    )
    t = df.groupby("band").agg(
        n_lsoas=("share", "size"),
        min_group_share=("share", "min"),
        max_group_share=("share", "max"),
        residents=("residents", "sum"),
        group_residents=("group_residents", "sum"),
        covered=("covered", "sum"),
        group_covered=("group_covered", "sum"),
    )
    t = t.reindex(range(1, bands + 1)).rename_axis("band").reset_index()
    t["group_share"] = _ratio(t["group_residents"].to_numpy(float), t["residents"].to_numpy(float))
    t["share_of_group_residents"] = t["group_residents"] / t["group_residents"].sum()
    t["share_covered"] = _ratio(t["covered"].to_numpy(float), t["residents"].to_numpy(float))
    t["share_group_covered"] = _ratio(
        t["group_covered"].to_numpy(float), t["group_residents"].to_numpy(float)
    )
    n_org = np.bincount(org_band[org_band > 0], minlength=bands + 1)[1:]
    t["n_organisations"] = n_org
    t["share_of_organisations"] = n_org / n_org.sum() if n_org.sum() else np.nan
    return t


def provision_vs_need(
    result: CoverageResult, layer: NeedLayer, group: str, *, minutes: Any = None, bands: int = 5
) -> ProvisionNeed:
    """Where coverage by some organisations is, against where the group they serve lives.

    Parameters
    ----------
    result
        Coverage by the organisations concerned, e.g. only the BAME-led ones
        (``coverage(orgs[organisation_attributes(orgs)["is_bame_led"]], area, ...)``).
    layer
        Count layer holding ``group`` on the result's LSOAs (e.g. the ethnic group layer).
    group
        The group the organisations serve (e.g. ``"ethnic_minority"``).
    minutes
        Time limit (default: the result's headline limit).
    bands
        Number of bands of LSOAs by the group's share of residents (5: quintiles).

    Returns
    -------
    ProvisionNeed
    """
    if not isinstance(bands, int) or isinstance(bands, bool) or bands < 2:
        raise ValidationError(f"bands={bands!r} must be a whole number >= 2")
    ts = _minutes([result], result.headline_minutes if minutes is None else minutes)
    if len(ts) != 1:
        raise ValidationError(f"minutes={minutes!r}: give one time limit")
    t = ts[0]
    p = _points(result)
    specs, counts = _counts(_layer_list(layer), p.codes, _vintage(result), [group])
    if len(specs) != 2:
        raise ValidationError(f"group={group!r} must be one count column of layer {layer.name!r}")
    total, grp = counts[:, 0], counts[:, 1]
    s = _lsoa_share(p, _covered(result, t))
    share = _ratio(grp, total)
    if not np.isfinite(share).all():
        raise MissingLSOAError(
            f"layer {layer.name!r} has no residents in LSOA(s) "
            f"{_codes_text(p.codes[~np.isfinite(share)])}"
        )
    band = _need_bands(share, bands)
    org_lsoa = _org_lsoas(result, p.codes)
    org_band = np.where(org_lsoa >= 0, band[np.maximum(org_lsoa, 0)], 0)
    table = _band_table(band, share, total, grp, s, org_band, bands)
    others = total - grp
    g_cov = float((grp * s).sum() / grp.sum()) if grp.sum() else float("nan")
    o_cov = float((others * s).sum() / others.sum()) if others.sum() else float("nan")
    top = table.iloc[0]
    summary = pd.Series(
        {
            "minutes": t,
            "group_residents": float(grp.sum()),
            "share_group_covered": g_cov,
            "share_others_covered": o_cov,
            "coverage_ratio": g_cov / o_cov if o_cov else np.nan,
            "spearman_lsoa": _spearman(share, s),
            "weighted_pearson_lsoa": _weighted_pearson(share, s, total),
            "n_organisations": int((org_band > 0).sum()),
            "share_organisations_top_band": float(top["share_of_organisations"]),
            "share_group_top_band": float(top["share_of_group_residents"]),
        }
    )
    summary["location_quotient_top_band"] = (
        summary["share_organisations_top_band"] / summary["share_group_top_band"]
    )
    params = {
        "layer": layer.name,
        "group": group,
        "total": layer.total,
        "minutes": t,
        "bands": bands,
        "label": layer.label(group),
    }
    return ProvisionNeed(bands=table, summary=summary, params=params)

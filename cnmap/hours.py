"""Opening hours: which organisations are open in a time window, and coverage at that time.

Organisations may carry their opening hours in OpenStreetMap ``opening_hours`` syntax
(``"Mo-Fr 09:00-17:00; Sa 10:00-12:00"``): the column ``opening_hours``, or ``hours_osm`` as in
the Warm Welcome spaces list. The strings are evaluated with the ``opening-hours-py`` package
(``pip install 'cnmap[hours]'``), which implements the full specification (weekday ranges,
nth weekday of the month ``Th[3]``, times past midnight, ``off`` rules, comments...).

A *window* is a set of weekly time ranges: ``"Mo-Fr 17:00-20:00"``, ``"Sa 09:00-12:00"``,
``"Mo,We 18:00-21:00; Sa 10:00-12:00"``, or ``("Sa", "09:00", "12:00")`` tuples. Opening
hours are evaluated on real dates: the ``n_weeks`` weeks starting on ``reference_start`` (a
Monday; default 8 January 2024 to 4 February 2024, four weeks without a bank holiday, which
contain the 1st to 4th and the last of every weekday of January). For each week:

- ``require="any"``: the organisation is open in the window if it is open at some moment of it
  (someone could visit during the window);
- ``require="all"``: only if it is open for the whole window (every listed day, start to end).

and then ``weeks="every"`` (default) keeps organisations that are open in the window in every
reference week (a regular weekly opening: a session on the third Thursday of the month does not
make a place "open on weekday evenings"), ``weeks="any"`` those open in at least one week.

Two readings of ``;``
---------------------
In the OSM specification a later ``;`` rule *replaces* earlier rules for the days it names:
``"Mo 09:00-16:00; Mo 13:30-15:00"`` means Monday 13:30-15:00 only. Lists converted from
free text, such as the Warm Welcome spaces (open-innovations/warm-spaces joins each session
with ``"; "``), mean the opposite: each rule *adds* a session. ``rules="osm"`` (default)
follows the specification; ``rules="additive"`` takes the union of the open times of the
``;``-separated rules evaluated one by one, minus the times closed by ``off``/``closed``
rules (expressions with a ``||`` fallback are evaluated as a whole). Choose the reading that
fits the data and say which one you used: it is recorded in the outputs.

Rows without hours or with hours that cannot be parsed are never dropped silently:
:func:`open_during` flags them (``hours_status``), and :func:`coverage_at` either excludes or
includes them (``unknown=``) and lists them in the result's ``quality`` table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import schema as S
from cnmap.errors import MissingColumnError, OptionalDependencyError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork

__all__ = [
    "Window",
    "parse_window",
    "weekly_open_intervals",
    "open_during",
    "coverage_at",
    "HOURS_COLUMNS",
    "DEFAULT_REFERENCE_START",
]

log = logging.getLogger(__name__)

#: Columns searched (in order) for OSM opening hours when ``hours_col`` is not given.
HOURS_COLUMNS = (S.OPENING_HOURS, "hours_osm")
#: First day of the reference weeks (a Monday).
DEFAULT_REFERENCE_START = dt.date(2024, 1, 8)

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAY_NAMES = {
    **{d.lower(): i for i, d in enumerate(DAYS)},
    **{
        n: i
        for i, n in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    **{n: i for i, n in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
}
WEEK_MIN = 7 * 1440
REQUIRES = ("any", "all")
WEEKS = ("every", "any")
RULES = ("osm", "additive")
UNKNOWN = ("exclude", "include")


def _engine() -> Any:
    try:
        import opening_hours
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OptionalDependencyError(
            "evaluating opening hours needs the optional package opening-hours-py; install it "
            "with pip install 'cnmap[hours]' (or pip install opening-hours-py)"
        ) from exc
    return opening_hours


# ---------------------------------------------------------------------------------------------
# windows


@dataclass(frozen=True)
class Window:
    """Weekly time ranges: ``(day, start_min, end_min)`` with day 0 = Monday, minutes from
    that day's midnight; ``end_min`` may exceed 1440 (a range past midnight)."""

    ranges: tuple[tuple[int, int, int], ...]
    label: str

    @property
    def minutes(self) -> int:
        """Total length of the window in a week, in minutes."""
        return int(sum(e - s for _, s, e in self.ranges))

    def week_intervals(self, week: int) -> np.ndarray:
        """(start, end) minutes from the first reference Monday 00:00, for week ``week``."""
        return np.array(
            [
                (week * WEEK_MIN + d * 1440 + s, week * WEEK_MIN + d * 1440 + e)
                for d, s, e in self.ranges
            ],
            dtype=np.int64,
        ).reshape(-1, 2)

    def __str__(self) -> str:
        return self.label


_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _minutes(value: Any, what: str) -> int:
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    m = _TIME.match(str(value).strip())
    if not m:
        raise ValidationError(f"{what} {value!r} is not a time; write it as HH:MM, e.g. '17:00'")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and mi):
        raise ValidationError(f"{what} {value!r} is not a time of day (00:00 to 24:00)")
    return h * 60 + mi


def _day(value: Any, what: str) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if 0 <= int(value) <= 6:
            return int(value)
        raise ValidationError(
            f"{what} {value!r}: weekday numbers run from 0 (Monday) to 6 (Sunday)"
        )
    key = str(value).strip().lower()
    if key not in _DAY_NAMES:
        raise ValidationError(
            f"{what} {value!r} is not a weekday; use Mo Tu We Th Fr Sa Su, a "
            "full name ('Saturday') or 0-6 (0 = Monday)"
        )
    return _DAY_NAMES[key]


def _days(spec: str, where: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (_day(x, where) for x in part.split("-", 1))
            out.extend([(a + i) % 7 for i in range((b - a) % 7 + 1)])
        else:
            out.append(_day(part, where))
    return out


def _range(day: int, start: int, end: int, where: str) -> tuple[int, int, int]:
    if end == start:
        raise ValidationError(f"{where}: the window is empty (starts and ends at the same time)")
    if end < start:
        end += 1440  # past midnight
    return (day, start, end)


def parse_window(window: Any) -> Window:
    """A :class:`Window` from a string, a ``(weekday, start, end)`` tuple or a list of them.

    Strings use the OSM weekday and time notation: ``"Mo-Fr 17:00-20:00"``, ``"Sa 09:00-12:00"``,
    ``"Mo,We 18:00-21:00"``, ``"Mo-Fr 09:00-12:00,13:00-15:00"``, several parts joined with
    ``;``. A range ending before it starts runs past midnight (``"Fr 22:00-02:00"``).
    """
    if isinstance(window, Window):
        return window
    ranges: list[tuple[int, int, int]] = []
    if isinstance(window, str):
        text = window.strip()
        if not text:
            raise ValidationError("the time window is empty; give e.g. 'Mo-Fr 17:00-20:00'")
        for part in text.split(";"):
            part = part.strip()
            m = re.match(r"^([A-Za-z][A-Za-z,\- ]*?)\s+(\d.*)$", part)
            if not m:
                raise ValidationError(
                    f"time window {window!r}: cannot read {part!r}; write "
                    "days then times, e.g. 'Mo-Fr 17:00-20:00' or "
                    "'Sa 09:00-12:00'"
                )
            days = _days(m.group(1).replace(" ", ""), f"time window {window!r}:")
            for tr in m.group(2).split(","):
                if tr.count("-") != 1:
                    raise ValidationError(
                        f"time window {window!r}: {tr.strip()!r} is not a "
                        "time range like 17:00-20:00"
                    )
                a, b = (_minutes(x, f"time window {window!r}:") for x in tr.split("-"))
                ranges.extend(_range(d, a, b, f"time window {window!r}") for d in days)
        label = text
    else:
        items: Sequence[Any]
        if isinstance(window, tuple) and len(window) == 3 and not isinstance(window[0], tuple):
            items = [window]
        elif isinstance(window, Iterable):
            items = list(window)
        else:
            raise ValidationError(
                f"time window {window!r}: give a string such as "
                "'Mo-Fr 17:00-20:00' or a (weekday, start, end) tuple"
            )
        if not items:
            raise ValidationError("the time window is empty; give e.g. 'Mo-Fr 17:00-20:00'")
        labels = []
        for it in items:
            if not (isinstance(it, tuple | list) and len(it) == 3):
                raise ValidationError(
                    f"time window item {it!r} must be (weekday, start, end), "
                    "e.g. ('Sa', '09:00', '12:00')"
                )
            d = _day(it[0], "time window weekday")
            a = _minutes(it[1], "time window start")
            b = _minutes(it[2], "time window end")
            ranges.append(_range(d, a, b, f"time window {it!r}"))
            labels.append(f"{DAYS[d]} {a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}")
        label = "; ".join(labels)
    return Window(ranges=tuple(sorted(set(ranges))), label=label)


# ---------------------------------------------------------------------------------------------
# evaluating opening hours on the reference weeks


def _merge(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(iv):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(iv: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    cut = _merge(cut)
    for a, b in iv:
        pieces = [(a, b)]
        for c, d in cut:
            nxt = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if c > x:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out.extend(pieces)
    return _merge(out)


def _split_rules(text: str) -> list[str]:
    """Split at top-level ``;`` (not inside double-quoted comments)."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_OFF = re.compile(r'\b(off|closed)\s*("[^"]*")?\s*$', re.IGNORECASE)


def _state_intervals(
    oh_mod: Any, expr: str, start: dt.datetime, end: dt.datetime, state: str
) -> list[tuple[int, int]]:
    o = oh_mod.OpeningHours(expr)
    out = []
    for a, b, st, _comment in o.intervals(start, end):
        if str(st).rsplit(".", 1)[-1].lower() != state:
            continue
        b = end if b is None else b
        out.append((int((a - start).total_seconds() // 60), int((b - start).total_seconds() // 60)))
    return out


def weekly_open_intervals(
    expr: str,
    *,
    rules: str = "osm",
    reference_start: dt.date = DEFAULT_REFERENCE_START,
    n_weeks: int = 4,
) -> list[tuple[int, int]]:
    """Open intervals of an OSM ``opening_hours`` expression over the reference weeks.

    Returns merged ``(start, end)`` pairs in minutes from ``reference_start`` 00:00 (intervals
    that start the day before, past midnight, begin below 0). Raises :class:`ValidationError`
    when the expression cannot be parsed.
    """
    if rules not in RULES:
        raise ValidationError(f"rules={rules!r} is not one of {RULES}")
    oh_mod = _engine()
    day0 = dt.datetime.combine(reference_start, dt.time())
    start = day0 - dt.timedelta(days=1)
    end = day0 + dt.timedelta(days=7 * n_weeks + 1)
    shift = 1440  # minutes between start and day0
    try:
        oh_mod.OpeningHours(expr)
        parts = _split_rules(expr)
        if rules == "osm" or len(parts) < 2 or "||" in expr:
            iv = _state_intervals(oh_mod, expr, start, end, "open")
        else:
            opened: list[tuple[int, int]] = []
            closed: list[tuple[int, int]] = []
            for p in parts:
                if _OFF.search(p):
                    closed += _state_intervals(oh_mod, "24/7; " + p, start, end, "closed")
                else:
                    opened += _state_intervals(oh_mod, p, start, end, "open")
            iv = _subtract(_merge(opened), closed)
    except (SyntaxError, ValueError, getattr(oh_mod, "ParserError", SyntaxError)) as exc:
        msg = str(exc).strip().splitlines()
        raise ValidationError(
            f"cannot parse opening hours {expr!r}: "
            f"{' '.join(s.strip() for s in msg if s.strip())[:200]}"
        ) from None
    return _merge([(a - shift, b - shift) for a, b in iv])


def _overlap(iv: list[tuple[int, int]], a: int, b: int) -> int:
    return int(sum(max(0, min(b, y) - max(a, x)) for x, y in iv))


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValidationError(f"{name}={value!r} is not one of {choices}")


def _hours_column(gdf: pd.DataFrame, hours_col: str | None) -> str:
    if hours_col is not None:
        if hours_col not in gdf.columns:
            raise MissingColumnError(
                f"hours_col={hours_col!r} is not a column of the "
                f"organisations (columns: {list(gdf.columns)})"
            )
        return hours_col
    for c in HOURS_COLUMNS:
        if c in gdf.columns:
            return c
    raise MissingColumnError(
        f"the organisations have no opening hours column (looked for "
        f"{list(HOURS_COLUMNS)}; columns: {list(gdf.columns)}); pass "
        "hours_col='your column' holding OSM opening_hours strings"
    )


def open_during(
    orgs: Any,
    window: Any,
    *,
    require: str = "any",
    weeks: str = "every",
    rules: str = "osm",
    hours_col: str | None = None,
    reference_start: dt.date = DEFAULT_REFERENCE_START,
    n_weeks: int = 4,
) -> gpd.GeoDataFrame:
    """Flag the organisations open during a weekly time window.

    Parameters
    ----------
    orgs
        Organisations (:func:`cnmap.read_organisations` result or a (Geo)DataFrame) with OSM
        opening hours in ``hours_col``.
    window
        The window: ``"Mo-Fr 17:00-20:00"``, ``("Sa", "09:00", "12:00")``... (see
        :func:`parse_window`).
    require
        ``"any"``: open at some moment of the window; ``"all"``: open for the whole window.
    weeks
        ``"every"``: open in the window in every reference week; ``"any"``: in at least one.
    rules
        ``"osm"`` (later ``;`` rules replace earlier ones, as specified) or ``"additive"``
        (each ``;`` rule adds opening time; see the module notes).
    hours_col
        Column with the hours; default the first of :data:`HOURS_COLUMNS` present.
    reference_start, n_weeks
        The reference weeks the hours are evaluated on (``reference_start`` must be a Monday).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of the organisations, same rows and order, with ``open_in_window`` (nullable
        boolean: missing where the hours are unknown), ``open_minutes_window`` (mean minutes
        open inside the window per week), ``hours_status`` (``"ok"``, ``"missing"`` or
        ``"unparsed"``) and ``hours_problem`` (the parser's message). ``.attrs["params"]``
        records every parameter.
    """
    _check_open_arguments(require, weeks, rules, reference_start, n_weeks)
    w = parse_window(window)
    gdf = _organisations_frame(orgs)
    col = _hours_column(gdf, hours_col)
    _engine()
    text = _hours_text(gdf[col])
    win_week = [w.week_intervals(k) for k in range(int(n_weeks))]
    cache = {
        expr: _open_in(expr, win_week, require, weeks, rules, reference_start)
        for expr in pd.unique(text.dropna())
    }
    status, problem, opened, minutes = _row_answers(text, cache, col)
    out = gdf.copy()
    out["open_in_window"] = opened
    out["open_minutes_window"] = minutes
    out["hours_status"] = pd.array(status, dtype="str")
    out["hours_problem"] = pd.array(problem, dtype="str")
    params: dict[str, Any] = {
        "window": w.label,
        "window_ranges": [list(r) for r in w.ranges],
        "require": require,
        "weeks": weeks,
        "rules": rules,
        "hours_col": col,
        "reference_start": reference_start.isoformat(),
        "n_weeks": int(n_weeks),
        "n_organisations": int(len(out)),
        "n_open": int(out["open_in_window"].sum()),
        "n_missing": int((status == "missing").sum()),
        "n_unparsed": int((status == "unparsed").sum()),
    }
    out.attrs["params"] = params
    _log_open(params, len(out))
    return out


def _check_open_arguments(
    require: str, weeks: str, rules: str, reference_start: dt.date, n_weeks: int
) -> None:
    """The choices and reference weeks of :func:`open_during`."""
    _check_choice("require", require, REQUIRES)
    _check_choice("weeks", weeks, WEEKS)
    _check_choice("rules", rules, RULES)
    if not isinstance(reference_start, dt.date) or reference_start.weekday() != 0:
        raise ValidationError(
            f"reference_start={reference_start!r} must be a date that is a "
            "Monday, e.g. datetime.date(2024, 1, 8)"
        )
    if int(n_weeks) < 1:
        raise ValidationError(f"n_weeks={n_weeks!r} must be at least 1")


def _organisations_frame(orgs: Any) -> pd.DataFrame:
    """The organisations' frame of a :func:`cnmap.read_organisations` result or a frame."""
    gdf = getattr(orgs, "organisations", orgs)
    if not isinstance(gdf, pd.DataFrame):
        raise ValidationError(
            "orgs must be the result of cnmap.read_organisations or a "
            f"(Geo)DataFrame, not {type(orgs).__name__}"
        )
    return gdf


def _hours_text(raw: pd.Series) -> pd.Series:
    """The opening hours as stripped text (None where missing or blank)."""
    text = raw.astype(object).where(raw.notna(), None)
    return pd.Series(
        [None if v is None or not str(v).strip() else str(v).strip() for v in text],
        index=raw.index,
        dtype=object,
    )


def _open_in(
    expr: str,
    win_week: list[np.ndarray],
    require: str,
    weeks: str,
    rules: str,
    reference_start: dt.date,
) -> tuple[bool, float, str]:
    """Whether ``expr`` opens in the window (per :func:`open_during`'s ``require`` and
    ``weeks``), its mean minutes open in the window per week, and the parser's message
    (``""`` when it parsed; then the first two are False and NaN)."""
    try:
        iv = weekly_open_intervals(
            expr, rules=rules, reference_start=reference_start, n_weeks=len(win_week)
        )
    except ValidationError as exc:
        return False, float("nan"), str(exc)
    per_week, mins = [], []
    for wi in win_week:
        ov = [_overlap(iv, int(a), int(b)) for a, b in wi]
        mins.append(sum(ov))
        if require == "any":
            per_week.append(sum(ov) > 0)
        else:
            per_week.append(all(o == int(b - a) for o, (a, b) in zip(ov, wi, strict=True)))
    is_open = all(per_week) if weeks == "every" else any(per_week)
    return bool(is_open), float(np.mean(mins)), ""


def _row_answers(
    text: pd.Series, cache: dict[str, tuple[bool, float, str]], col: str
) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
    """Per row: hours status, problem, open in the window (nullable) and minutes open."""
    n = len(text)
    status = np.full(n, "missing", dtype=object)
    problem = np.full(n, "", dtype=object)
    opened = pd.array([pd.NA] * n, dtype="boolean")
    minutes = np.full(n, np.nan)
    for i, v in enumerate(text.to_numpy()):
        if v is None:
            problem[i] = f"no opening hours in column {col!r}"
            continue
        o, m, err = cache[v]
        if err:
            status[i] = "unparsed"
            problem[i] = err
        else:
            status[i] = "ok"
            opened[i] = o
            minutes[i] = m
    return status, problem, opened, minutes


def _log_open(params: dict[str, Any], n: int) -> None:
    """Warn about organisations without usable hours; log the count open."""
    n_unknown = int(params["n_missing"]) + int(params["n_unparsed"])
    if n_unknown:
        log.warning(
            "open_during: %d of %d organisations have no usable opening hours in %r "
            "(%d missing, %d unparsed); see hours_status",
            n_unknown,
            n,
            params["hours_col"],
            params["n_missing"],
            params["n_unparsed"],
        )
    log.info(
        "open_during %s (require=%s, weeks=%s, rules=%s): %d of %d open",
        params["window"],
        params["require"],
        params["weeks"],
        params["rules"],
        params["n_open"],
        n,
    )


def coverage_at(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    window: Any,
    orgs: Any,
    area: Area,
    network: WalkNetwork | None = None,
    *,
    unknown: str = "exclude",
    require: str = "any",
    weeks: str = "every",
    rules: str = "osm",
    hours_col: str | None = None,
    reference_start: dt.date = DEFAULT_REFERENCE_START,
    n_weeks: int = 4,
    **coverage_kw: Any,
) -> CoverageResult:
    """Walking coverage by the organisations open during a time window.

    Parameters
    ----------
    window, require, weeks, rules, hours_col, reference_start, n_weeks
        As for :func:`open_during`.
    orgs, area, network
        As for :func:`cnmap.coverage.coverage`.
    unknown
        Organisations without usable hours: ``"exclude"`` (default: not counted as open) or
        ``"include"`` (counted as open). Either way they are listed in the result's
        ``quality`` table and counted in ``params["opening_hours"]``.
    **coverage_kw
        Passed to :func:`cnmap.coverage.coverage` (``minutes``, ``persona``, ``residents``...).

    Returns
    -------
    CoverageResult
        With ``params["opening_hours"]`` (window, counts open / closed / unknown, the rules) and
        one ``quality`` row per organisation with unknown hours.
    """
    from cnmap.coverage import coverage

    _check_choice("unknown", unknown, UNKNOWN)
    flagged = open_during(
        orgs,
        window,
        require=require,
        weeks=weeks,
        rules=rules,
        hours_col=hours_col,
        reference_start=reference_start,
        n_weeks=n_weeks,
    )
    p = dict(flagged.attrs["params"])
    is_unknown = (flagged["hours_status"] != "ok").to_numpy()
    keep = flagged["open_in_window"].fillna(unknown == "include").to_numpy(bool)
    selected = flagged.loc[keep].drop(
        columns=["open_in_window", "open_minutes_window", "hours_status", "hours_problem"]
    )
    if len(selected) == 0:
        raise ValidationError(
            f"no organisation is open during {p['window']} (require={require!r}, "
            f"weeks={weeks!r}, rules={rules!r}): {p['n_open']} of "
            f"{p['n_organisations']} open, {int(is_unknown.sum())} with unknown "
            "hours; choose another window, or unknown='include'"
        )
    result = coverage(selected, area, network=network, **coverage_kw)
    p.update(
        {
            "unknown": unknown,
            "n_used": int(len(selected)),
            "n_closed": int((~keep & ~is_unknown).sum()),
            "n_unknown": int(is_unknown.sum()),
        }
    )
    ids = (
        flagged[S.ORG_ID].astype(str)
        if S.ORG_ID in flagged.columns
        else pd.Series([f"org{i}" for i in range(len(flagged))], index=flagged.index)
    )
    names = flagged[S.NAME].astype(str) if S.NAME in flagged.columns else ids
    rows = [
        {
            "what": f"organisation hours unknown ({unknown}d)",
            "id": ids.iat[i],
            "detail": f"{names.iat[i]}: {flagged['hours_problem'].iat[i]}",
        }
        for i in np.flatnonzero(is_unknown)
    ]
    quality = (
        pd.concat(
            [result.quality, pd.DataFrame(rows, columns=["what", "id", "detail"])],
            ignore_index=True,
        )
        if rows
        else result.quality
    )
    params = dict(result.params)
    params["opening_hours"] = p
    log.info(
        "coverage_at %s: %d organisations used (%d closed, %d unknown %sd)",
        p["window"],
        p["n_used"],
        p["n_closed"],
        p["n_unknown"],
        unknown,
    )
    return dataclasses.replace(result, params=params, quality=quality)

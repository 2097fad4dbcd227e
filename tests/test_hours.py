"""cnmap.hours: windows, OSM opening hours on the reference weeks (real warm-space strings),
open_during and coverage_at."""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import pandas as pd
import pytest

from cnmap.errors import MissingColumnError, ValidationError
from cnmap.hours import (
    DEFAULT_REFERENCE_START,
    coverage_at,
    open_during,
    parse_window,
    weekly_open_intervals,
)
from tests.helpers import lattice as L

DAY = 1440


# ---------------------------------------------------------------------------------------------
# windows


def test_parse_window_forms():
    w = parse_window("Mo-Fr 17:00-20:00")
    assert w.ranges == tuple((d, 1020, 1200) for d in range(5)) and w.minutes == 5 * 180
    assert parse_window("Sa 09:00-12:00").ranges == ((5, 540, 720),)
    assert parse_window(("Sa", "09:00", "12:00")).ranges == ((5, 540, 720),)
    assert parse_window([("saturday", dt.time(9), "12:00"), (6, "10:00", "11:00")]).ranges == (
        (5, 540, 720),
        (6, 600, 660),
    )
    assert parse_window("Mo,We 18:00-21:00").ranges == ((0, 1080, 1260), (2, 1080, 1260))
    assert parse_window("Mo 09:00-12:00,13:00-15:00; Sa 10:00-11:00").ranges == (
        (0, 540, 720),
        (0, 780, 900),
        (5, 600, 660),
    )
    assert parse_window("Fr 22:00-02:00").ranges == ((4, 1320, 1560),)  # past midnight
    assert parse_window("Sa-Mo 10:00-24:00").ranges == tuple((d, 600, 1440) for d in (0, 5, 6))
    assert str(parse_window("Sa 09:00-12:00")) == "Sa 09:00-12:00"


@pytest.mark.parametrize(
    "bad, match",
    [
        ("", "empty"),
        ("Mo-Fr", "cannot read"),
        ("Xy 10:00-12:00", "not a weekday"),
        ("Mo 10:00", "not a time range"),
        ("Mo 25:00-26:00", "not a time of day"),
        ("Mo 10-12", "not a time"),
        ("Mo 10:00-10:00", "empty"),
        ([], "empty"),
        (("Mo", "10:00"), "must be"),
        (7, "give a string"),
        ((9, "10:00", "11:00"), "0 \\(Monday\\)"),
        ([("Mo", "10:00")], "must be \\(weekday"),
    ],
)
def test_parse_window_errors(bad, match):
    with pytest.raises(ValidationError, match=match):
        parse_window(bad)


# ---------------------------------------------------------------------------------------------
# evaluating real warm-space strings on the reference weeks (Mon 8 Jan - Sun 4 Feb 2024)


def test_reference_week_hand_checked():
    # Bromford Bridge Christian Church, the first row of the warm spaces file
    iv = weekly_open_intervals(
        "Tu 10:00-14:00; Th 18:00-20:00; Fr 10:00-14:00; Su 10:00-13:30", n_weeks=1
    )
    week0 = [x for x in iv if 0 <= x[0] < 7 * DAY]
    assert iv[0] == (-DAY + 600, -DAY + 810)  # the Sunday before is evaluated too
    assert week0 == [
        (DAY + 600, DAY + 840),
        (3 * DAY + 1080, 3 * DAY + 1200),
        (4 * DAY + 600, 4 * DAY + 840),
        (6 * DAY + 600, 6 * DAY + 810),
    ]
    assert DEFAULT_REFERENCE_START.weekday() == 0


def test_osm_and_additive_readings():
    # the same day twice: the specification keeps the last rule, the warm-space lists add them
    s = "Mo 09:00-16:00; Mo 13:30-15:00"
    assert weekly_open_intervals(s, n_weeks=1)[0] == (810, 900)
    assert weekly_open_intervals(s, n_weeks=1, rules="additive")[0] == (540, 960)
    # an off rule closes in both readings
    assert weekly_open_intervals("Mo-Fr 09:00-17:00; We off", rules="additive", n_weeks=1)[:3] == [
        (540, 1020),
        (DAY + 540, DAY + 1020),
        (3 * DAY + 540, 3 * DAY + 1020),
    ]


def test_nth_weekday_and_weeks_parameter():
    # real: 'We 10:00-12:00; Th 16:30-18:30; Th[2] 11:00-13:00'. 11 Jan 2024 is the second
    # Thursday of January: under the OSM reading that week's Thursday is 11:00-13:00 only.
    orgs = pd.DataFrame(
        {
            "opening_hours": [
                "We 10:00-12:00; Th 16:30-18:30; Th[2] 11:00-13:00",
                "Th[3] 12:30-14:00",
            ]
        }
    )
    f = open_during(orgs, "Th 17:00-18:00")
    assert f["open_in_window"].tolist() == [False, False]  # not every week
    f = open_during(orgs, "Th 17:00-18:00", weeks="any")
    assert f["open_in_window"].tolist() == [True, False]
    assert f["open_minutes_window"].tolist() == [45.0, 0.0]  # 3 of 4 weeks x 60 min
    f = open_during(orgs, "Th 17:00-18:00", rules="additive")
    assert f["open_in_window"].tolist() == [True, False]
    f = open_during(orgs, "Th 12:00-13:00", weeks="any")  # the third Thursday, 18 Jan
    assert f["open_in_window"].tolist() == [True, True]


def test_require_any_or_all_and_midnight():
    orgs = pd.DataFrame(
        {
            "opening_hours": [
                "Fr 15:30-04:30; Fr 17:00-18:00",
                "Mo-Fr 18:00-19:00",
                "Mo-Fr 17:00-20:00",
            ]
        }
    )
    f = open_during(orgs, "Mo-Fr 17:00-20:00", require="all")
    assert f["open_in_window"].tolist() == [False, False, True]
    f = open_during(orgs, "Mo-Fr 17:00-20:00", require="any")
    assert f["open_in_window"].tolist() == [True, True, True]
    assert f["open_minutes_window"].tolist() == [60.0, 300.0, 900.0]
    # a window past midnight: additive reading open Friday 15:30 to Saturday 04:30
    f = open_during(orgs, "Fr 23:00-01:00", require="all", rules="additive")
    assert f["open_in_window"].tolist() == [True, False, False]
    f = open_during(orgs, "Fr 23:00-01:00", require="all", rules="osm")
    assert f["open_in_window"].tolist() == [False, False, False]


def test_missing_and_unparsed_are_flagged_not_dropped():
    orgs = gpd.GeoDataFrame(
        {
            "name": ["a", "b", "c", "d"],
            "hours_osm": [None, "  ", "Tuesday 10-12", "Mo-Fr 09:00-17:00"],
        },
        geometry=gpd.points_from_xy([0, 1, 2, 3], [0, 0, 0, 0]),
        crs="EPSG:27700",
    )
    f = open_during(orgs, "Mo 10:00-11:00")
    assert len(f) == 4 and list(f["name"]) == ["a", "b", "c", "d"]
    assert f["hours_status"].tolist() == ["missing", "missing", "unparsed", "ok"]
    assert f["open_in_window"].isna().tolist() == [True, True, True, False]
    assert bool(f["open_in_window"].iloc[3])
    assert "cannot parse opening hours 'Tuesday 10-12'" in f["hours_problem"].iloc[2]
    assert "no opening hours in column 'hours_osm'" in f["hours_problem"].iloc[0]
    p = f.attrs["params"]
    assert (p["n_missing"], p["n_unparsed"], p["n_open"], p["hours_col"]) == (2, 1, 1, "hours_osm")
    assert "hours_osm" in orgs.columns and "hours_status" not in orgs.columns  # not mutated


def test_open_during_errors():
    orgs = pd.DataFrame({"opening_hours": ["Mo 10:00-12:00"]})
    with pytest.raises(ValidationError, match="require"):
        open_during(orgs, "Mo 10:00-11:00", require="some")
    with pytest.raises(ValidationError, match="weeks"):
        open_during(orgs, "Mo 10:00-11:00", weeks="most")
    with pytest.raises(ValidationError, match="rules"):
        open_during(orgs, "Mo 10:00-11:00", rules="js")
    with pytest.raises(ValidationError, match="Monday"):
        open_during(orgs, "Mo 10:00-11:00", reference_start=dt.date(2024, 1, 9))
    with pytest.raises(ValidationError, match="n_weeks"):
        open_during(orgs, "Mo 10:00-11:00", n_weeks=0)
    with pytest.raises(MissingColumnError, match="no opening hours column"):
        open_during(pd.DataFrame({"hours": ["Mo 10:00-12:00"]}), "Mo 10:00-11:00")
    with pytest.raises(MissingColumnError, match="hours_col='when'"):
        open_during(orgs, "Mo 10:00-11:00", hours_col="when")
    with pytest.raises(ValidationError, match="DataFrame"):
        open_during(["Mo 10:00-12:00"], "Mo 10:00-11:00")
    with pytest.raises(ValidationError, match="cannot parse"):
        weekly_open_intervals("Mo 10h-12h")
    with pytest.raises(ValidationError, match="rules"):
        weekly_open_intervals("Mo 10:00-12:00", rules="x")


# ---------------------------------------------------------------------------------------------
# the real warm spaces file


_SIMPLE = re.compile(
    r"^(Mo|Tu|We|Th|Fr|Sa|Su)(-(Mo|Tu|We|Th|Fr|Sa|Su))? "
    r"\d\d:\d\d-\d\d:\d\d(,\d\d:\d\d-\d\d:\d\d)*$"
)


def _simple_open(expr, window):
    """An independent reading of the simple strings (no [n], no past-midnight), additive."""
    days = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
    open_ = []
    for rule in expr.split("; "):
        d, times = rule.split(" ")
        a, _, b = d.partition("-")
        ds = range(days.index(a), days.index(b or a) + 1)
        for t in times.split(","):
            s, e = (int(x[:2]) * 60 + int(x[3:]) for x in t.split("-"))
            open_ += [(day, s, e) for day in ds]
    return any(
        day == wd and s < we and e > ws
        for day, s, e in open_
        for wd, ws, we in parse_window(window).ranges
    )


@pytest.mark.slow
def test_real_warm_spaces(shared_data):
    g = gpd.read_file(shared_data / "birmingham/osm/warm_spaces_birmingham.geojson")
    f = open_during(g, "Mo-Fr 17:00-20:00", rules="additive")
    p = f.attrs["params"]
    assert p["hours_col"] == "hours_osm" and p["n_organisations"] == 414
    assert p["n_unparsed"] == 0 and p["n_missing"] == 6  # every published string parses
    # an independent reading of the simple strings agrees
    simple = [
        s
        for s in g["hours_osm"].dropna()
        if all(_SIMPLE.match(r) for r in s.split("; "))
        and all(
            int(t[:2]) * 60 + int(t[3:5]) < int(t[6:8]) * 60 + int(t[9:11])
            for t in re.findall(r"\d\d:\d\d-\d\d:\d\d", s)
        )
    ]
    assert len(simple) > 300
    for window in ("Mo-Fr 17:00-20:00", "Sa 09:00-12:00", "Su 10:00-16:00"):
        got = open_during(pd.DataFrame({"opening_hours": simple}), window, rules="additive")
        expected = [_simple_open(s, window) for s in simple]
        assert got["open_in_window"].tolist() == expected, window
    counts = {}
    for rules in ("osm", "additive"):
        for window in ("Mo-Fr 17:00-20:00", "Sa 09:00-12:00"):
            counts[rules, window] = open_during(g, window, rules=rules).attrs["params"]["n_open"]
    assert counts == {
        ("osm", "Mo-Fr 17:00-20:00"): 67,
        ("osm", "Sa 09:00-12:00"): 53,
        ("additive", "Mo-Fr 17:00-20:00"): 69,
        ("additive", "Sa 09:00-12:00"): 58,
    }


# ---------------------------------------------------------------------------------------------
# coverage at a time window


@pytest.fixture(scope="module")
def line():
    orgs = L.orgs_at([0, 1000, 500], hours=["Mo-Fr 17:00-20:00", "Sa 09:00-12:00", None])
    return L.line_network(), L.line_area(), L.line_residents(), orgs


def test_coverage_at_hand_checked(line):
    net, area, res, orgs = line
    ev = coverage_at("Mo-Fr 18:00-19:00", orgs, area, net, residents=res, minutes=[10])
    # only org 0 (x = 0) is open: walks 60, 460 (covered at 800 m), 960 (not)
    assert ev.totals["pop_covered"].iloc[0] == 300
    assert list(ev.organisations["org_id"]) == ["o0"]
    oh = ev.params["opening_hours"]
    assert (oh["n_used"], oh["n_closed"], oh["n_unknown"]) == (1, 1, 1)
    q = ev.quality
    assert q["what"].tolist() == ["organisation hours unknown (excluded)"]
    assert q["id"].tolist() == ["o2"]
    sat = coverage_at(("Sa", "10:00", "11:00"), orgs, area, net, residents=res, minutes=[10])
    assert sat.totals["pop_covered"].iloc[0] == 500  # 950 (60 m) and 450 (560 m)
    inc = coverage_at(
        "Mo-Fr 18:00-19:00", orgs, area, net, residents=res, minutes=[10], unknown="include"
    )
    assert inc.totals["pop_covered"].iloc[0] == 600
    assert inc.quality["what"].tolist() == ["organisation hours unknown (included)"]


def test_coverage_at_errors(line):
    net, area, res, orgs = line
    with pytest.raises(ValidationError, match="no organisation is open during Su 03:00-04:00"):
        coverage_at("Su 03:00-04:00", orgs, area, net, residents=res)
    with pytest.raises(ValidationError, match="unknown"):
        coverage_at("Su 03:00-04:00", orgs, area, net, residents=res, unknown="drop")


@pytest.mark.slow
def test_birmingham_weekday_evening_against_saturday_morning(shared_data):
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.network import read_walk_network

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    kw = dict(minutes=[15], rules="additive")
    ev = coverage_at("Mo-Fr 17:00-20:00", orgs, area, net, **kw)
    sa = coverage_at("Sa 09:00-12:00", orgs, area, net, **kw)
    full = coverage(orgs, area, network=net, minutes=[15])
    n_org = len(orgs.organisations)
    assert (
        ev.params["opening_hours"]["n_used"]
        + ev.params["opening_hours"]["n_closed"]
        + ev.params["opening_hours"]["n_unknown"]
        == n_org
    )
    # the evening subset gives exactly the coverage of those organisations
    flagged = open_during(orgs, "Mo-Fr 17:00-20:00", rules="additive")
    direct = coverage(
        flagged.loc[flagged["open_in_window"].fillna(False).to_numpy(bool)],
        area,
        network=net,
        minutes=[15],
    )
    assert ev.share_covered(15) == pytest.approx(direct.share_covered(15), abs=1e-12)
    assert ev.share_covered(15) < full.share_covered(15) and sa.share_covered(
        15
    ) < full.share_covered(15)
    assert 0.3 < ev.share_covered(15) < 0.9 and 0.3 < sa.share_covered(15) < 0.9


def test_missing_engine_names_the_extra(monkeypatch):
    import sys

    from cnmap.errors import OptionalDependencyError

    monkeypatch.setitem(sys.modules, "opening_hours", None)  # import fails
    with pytest.raises(OptionalDependencyError, match=r"cnmap\[hours\]"):
        open_during(pd.DataFrame({"opening_hours": ["Mo 10:00-12:00"]}), "Mo 10:00-11:00")
    with pytest.raises(ImportError):
        weekly_open_intervals("Mo 10:00-12:00")

"""Hostile API arguments: a wrong type or an absurd value raises a cnmap ValidationError that
names the argument (never a TypeError/KeyError traceback, never a silent coercion).

Uses the hand-made street of ``tests/fixtures/scenarios/lattice.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnmap
from cnmap.basket import basket_coverage
from cnmap.coverage import coverage
from cnmap.errors import CnmapError, ValidationError
from cnmap.reach import crow_flies_reach_matrix, reach_matrix
from tests.helpers import lattice as L


@pytest.fixture(scope="module")
def line():
    return L.line_network(), L.line_area(), L.line_residents()


def _raises_naming(arg: str, fn, *args, **kwargs) -> str:
    """Call ``fn``; it must raise a ValidationError whose message names ``arg=``."""
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert f"{arg}=" in msg or f"{arg} " in msg, msg
    assert isinstance(info.value, CnmapError)
    return msg


# ---------------------------------------------------------------------------------- coverage

# (negative, zero, NaN and empty limits were refused before; the existing tests keep them)
BAD_COVERAGE = [
    ("minutes", None, "give one or more time limits"),
    ("minutes", "15", "str, not"),
    ("minutes", b"15", "bytes"),
    ("minutes", True, "a boolean"),
    ("minutes", [True], "a boolean"),
    ("minutes", [1e308], "more than 1440 minutes"),
    ("minutes", {5: "a"}, "dict"),
    ("minutes", ["5", "10"], "str, not a number"),
    ("speed_kmh", "fast", "str, not a number of km/h"),
    ("speed_kmh", "4.8", "without quotes"),
    ("speed_kmh", True, "a boolean"),
    ("speed_kmh", 1e308, "more than 100 km/h"),
    ("max_snap_m", "500", "str, not a number of metres"),
    ("max_snap_m", None, "NoneType"),
    ("max_snap_m", [500], "list"),
    ("max_snap_m", float("inf"), "not a finite number"),
    ("max_snap_m", True, "a boolean"),
    ("persona", ["older"], "list; give a walking persona"),
    ("type_col", ["type"], "give a column name"),
    ("by_type", "false", "give True or False"),
    ("residents", 5, "GeoDataFrame of points, not int"),
    ("network", "streets.gpkg", "read_walk_network"),
]


@pytest.mark.parametrize(
    ("arg", "value", "expect"), BAD_COVERAGE, ids=[f"{a}={v!r}"[:40] for a, v, _ in BAD_COVERAGE]
)
def test_coverage_refuses_bad_argument(line, arg, value, expect):
    net, area, res = line
    kwargs = {"network": net, "residents": res, "minutes": [15], arg: value}
    msg = _raises_naming(arg, coverage, L.orgs_at([0]), area, **kwargs)
    assert expect in msg, msg


def test_coverage_module_call_refuses_minutes_none(line):
    """``cnmap.coverage(...)`` (the callable module) behaves like the function."""
    net, area, res = line
    msg = _raises_naming(
        "minutes", cnmap.coverage, L.orgs_at([0]), area, network=net, residents=res, minutes=None
    )
    assert "minutes=15" in msg  # says what to give


def test_crow_flies_detour_factor_must_be_a_number(line):
    _, area, res = line
    msg = _raises_naming(
        "detour_factor",
        coverage,
        L.orgs_at([0]),
        area,
        residents=res,
        mode="crow_flies",
        detour_factor="2",
    )
    assert "str" in msg


def test_good_arguments_still_work_and_numpy_numbers_are_numbers(line):
    net, area, res = line
    r = coverage(
        L.orgs_at([0]),
        area,
        network=net,
        residents=res,
        minutes=np.array([10, 5, 10]),
        speed_kmh=np.float64(4.8),
        max_snap_m=np.int64(500),
    )
    assert r.thresholds == (5, 10) and r.speed_kmh == 4.8 and r.params["max_snap_m"] == 500
    assert coverage(L.orgs_at([0]), area, network=net, residents=res, minutes=15).thresholds == (
        15,
    )


@pytest.mark.parametrize("value", ["10", None, True, [10]])
def test_result_metres_refuses_non_numbers(line, value):
    net, area, res = line
    r = coverage(L.orgs_at([0]), area, network=net, residents=res, minutes=[10])
    _raises_naming("minutes", r.metres, value)


# ---------------------------------------------------------------------------------- reach


@pytest.mark.parametrize(
    ("arg", "value"),
    [
        ("max_snap_m", "500"),
        ("max_snap_m", None),
        ("max_snap_m", True),
        ("cutoff_m", "400"),
        ("cutoff_m", True),
        ("cutoff_m", np.str_("400")),
    ],
)
def test_reach_matrix_refuses_bad_numbers(line, arg, value):
    net, area, res = line
    kwargs = {"cutoff_m": 400, arg: value}
    _raises_naming(arg, reach_matrix, net, L.orgs_at([0]), res, **kwargs)


@pytest.mark.parametrize("value", ["1.2", None, True, [1.2]])
def test_crow_flies_reach_matrix_refuses_bad_detour(line, value):
    _, _, res = line
    _raises_naming(
        "detour_factor",
        crow_flies_reach_matrix,
        L.orgs_at([0]),
        res,
        cutoff_m=400,
        detour_factor=value,
    )


# ---------------------------------------------------------------------------------- basket


@pytest.fixture(scope="module")
def cov(line):
    net, area, res = line
    return coverage(
        L.orgs_at([0, 1000], types=["Advice", "Food bank"]),
        area,
        network=net,
        residents=res,
        minutes=[5, 15],
    )


@pytest.mark.parametrize("value", ["15", True, [np.True_], [1e308], {15: "x"}, np.array(True)])
def test_basket_refuses_bad_minutes(cov, value):
    _raises_naming("minutes", basket_coverage, cov, ["advice"], minutes=value)


# ---------------------------------------------------------------------------------- the rules


def test_check_rules_are_reusable():
    from cnmap import _check

    assert _check.minutes_tuple("minutes", [20, 5.5, 5.50, 15.0]) == (5.5, 15, 20)
    assert _check.speed_kmh("speed_kmh", 3) == 3.0
    assert _check.is_number(np.int32(3)) and not _check.is_number(np.bool_(True))
    with pytest.raises(ValidationError, match="config.minutes="):
        _check.minutes_tuple("config.minutes", "15")

"""cnmap.schema (column names), cnmap.params (typed parameters), cnmap.aggregate."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest

from cnmap import aggregate, columns, params, schema
from cnmap import schema as S
from cnmap.aggregate import group_sums
from cnmap.errors import ValidationError
from cnmap.params import CoverageParams, ThinParams


@pytest.mark.parametrize("module", [schema, params, aggregate])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "value", [15, 15.0, np.float64(15), np.int64(15), "15", " 15.0 ", np.array(15.0)]
)
def test_minutes_normalised_once(value):
    assert S.minutes_value(value) == 15 and isinstance(S.minutes_value(value), int)
    assert S.share_covered(value) == "share_covered_15min"
    assert S.covered(value, "food_bank") == "covered_15min_food_bank"
    assert S.pop_covered(value) == "pop_covered_15min"
    assert S.mean_reachable(value) == "mean_reachable_15min"
    assert S.n_reachable(value, "advice") == "n_reachable_15min_advice"


def test_fractional_minutes_as_written_by_coverage():
    # coverage keeps fractional limits as floats: the column is f"...{7.5}min"
    for v in (7.5, np.float64(7.5), "7.5"):
        assert S.share_covered(v) == "share_covered_7.5min"
    assert S.minutes_label(0.25) == f"{0.25}"


@pytest.mark.parametrize(
    "bad", [True, np.bool_(False), None, "fifteen", "", 0, -5, np.nan, float("inf"), [15], b"15"]
)
def test_bad_minutes_are_validation_errors(bad):
    with pytest.raises(ValidationError, match="is not a time limit"):
        S.share_covered(bad)


def test_builders_keep_the_existing_names():
    assert S.mean_walk_min() == S.MEAN_WALK_MIN == "mean_walk_min"
    assert S.mean_walk_min("food") == "mean_walk_min_food"
    assert S.walk_min("food") == "walk_min_food" and S.walk_m() == "walk_m"
    assert S.has("food", 10.0) == "has_food_10min"
    assert S.basket(10) == "basket_10min" and S.pop_basket(10) == "pop_basket_10min"
    assert S.share_basket(10) == "share_basket_10min"
    assert S.share_with("advice", 10) == "share_advice_10min"
    assert S.pop_without("advice") == "pop_without_advice"
    assert S.gained(5) == "gained_5min" and S.lost(5) == "lost_5min"
    assert S.pop_gained(5) == "pop_gained_5min" and S.pop_lost(5) == "pop_lost_5min"
    assert S.net_change(5.0) == "net_change_5min" and S.share_change(5) == "share_change_5min"
    assert S.side(S.share_covered(15), "b") == "share_covered_15min_b"


def test_default_minutes():
    assert S.default_minutes([5, 10, 15, 20]) == 15
    assert S.default_minutes((5, 10)) == 10
    assert S.default_minutes([15.0]) == 15
    assert S.default_minutes(20) == 20

    class Result:
        thresholds = (10, 20, 30)

    assert S.default_minutes(Result()) == 30
    with pytest.raises(ValidationError, match="no time limits"):
        S.default_minutes(())


def test_columns_module_re_exports_the_schema_constants():
    constants = [n for n in vars(columns) if n.isupper()]
    assert {"BNG", "LSOA_CODE", "POPULATION", "GEOMETRY", "SITE"} <= set(constants)
    for name in constants:  # a constant added to columns only is moved to schema later
        if hasattr(schema, name):
            assert getattr(columns, name) == getattr(schema, name), name
    assert columns.share_covered(15.0) == "share_covered_15min"  # builders too


# --------------------------------------------------------------------------------------------
# aggregation


def test_group_sums_by_hand():
    keys = np.array(["b", "a", "a", "b", "c"])
    w = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    s = group_sums(
        keys,
        w,
        people={"in": np.array([True, True, False, False, True])},
        per_person={"n": np.array([2.0, 1.0, 0.0, 1.0, 5.0])},
        means={"walk": np.array([10.0, np.inf, 4.0, np.nan, 1.0])},
        medians={"walk": np.array([10.0, np.inf, 4.0, 2.0, 1.0])},
    )
    assert list(s.index) == ["a", "b", "c"]
    assert s.population.tolist() == [5.0, 5.0, 0.0]
    assert s.people("in").tolist() == [2.0, 1.0, 0.0]
    assert s.share("in")[:2].tolist() == [0.4, 0.2] and np.isnan(s.share("in")[2])
    assert s.per_person("n")[:2].tolist() == [0.4, 1.2]
    mean = s.mean("walk")
    assert mean[:2].tolist() == [4.0, 10.0] and np.isnan(mean[2])  # only finite walks count
    med = s.median("walk")
    assert med[:2].tolist() == [4.0, 2.0] and np.isnan(med[2])  # no weight in "c"


def test_group_sums_matches_a_plain_groupby():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 7, 500)
    w = rng.uniform(0, 5, 500)
    cond = rng.random(500) < 0.4
    s = group_sums(keys, w, people={"c": cond})
    expected = pd.Series(np.where(cond, w, 0.0)).groupby(keys).sum()
    assert np.array_equal(s.people("c"), expected.to_numpy())
    assert np.array_equal(s.population, pd.Series(w).groupby(keys).sum().to_numpy())


# --------------------------------------------------------------------------------------------
# typed parameters


def _coverage_params() -> CoverageParams:
    return CoverageParams(
        mode="network",
        minutes=(5, 15),
        speed_kmh=4.8,
        persona=None,
        metres=(400.0, 1200.0),
        max_snap_m=500.0,
        residents="postcodes",
        n_residential_points=10,
        population=1000.0,
        type_col="type",
        organisation_types=("advice", "food"),
        n_organisations=3,
        n_organisations_placed=2,
        detour_factor=None,
        detour_calibration=None,
        lad_code="X",
        lsoa_vintage=2011,
        iod=2019,
        network={"source": "x.gpkg", "n_nodes": 4, "n_edges": 3},
    )


def test_coverage_params_dict_view_round_trip():
    p = _coverage_params()
    d = p.as_dict()
    assert list(d)[:3] == ["mode", "minutes", "speed_kmh"] and list(d)[-2:] == [
        "ward_method",
        "snap_coverage",
    ]
    assert d["minutes"] == [5, 15] and d["organisation_types"] == ["advice", "food"]
    json.dumps(d)  # a plain dict: JSON as before
    assert CoverageParams.from_mapping({**d, "scenario": {"name": "x"}}) == p  # extras ignored
    with pytest.raises(ValidationError, match=r"no \['speed_kmh'\]"):
        CoverageParams.from_mapping({k: v for k, v in d.items() if k != "speed_kmh"})
    with pytest.raises(AttributeError):
        p.speed_kmh = 3.0  # type: ignore[misc]


def test_thin_params_fields_are_the_recorded_keys():
    names = list(ThinParams.__dataclass_fields__)
    assert names[:3] == ["minutes", "metres", "domain"] and names[-2:] == ["cold_spots", "coverage"]

"""cnmap.basket: hand-checked basket coverage on a street, services as types, alternatives,
crow-flies, real seed organisations, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cnmap.basket import basket_coverage, match_types, organisation_tokens
from cnmap.coverage import coverage
from cnmap.errors import ValidationError
from tests.helpers import lattice as L


@pytest.fixture(scope="module")
def line():
    net, area, res = L.line_network(), L.line_area(), L.line_residents()
    orgs = L.orgs_at(
        [0, 1000, 500],
        types=["Food bank", "advice", "community"],
        services=[("advice",), (), ("computer access", "warm food")],
    )
    cov = coverage(orgs, area, network=net, residents=res, minutes=[5, 10])
    return net, area, res, orgs, cov


def test_tokens_include_type_and_services(line):
    *_, orgs, _ = line
    toks = organisation_tokens(orgs)
    assert toks == [
        frozenset({"food_bank", "advice"}),
        frozenset({"advice"}),
        frozenset({"community", "computer_access", "warm_food"}),
    ]
    m = match_types(orgs, ["advice"])
    assert m["advice"].tolist() == [True, True, False]
    # plain services text (no services_list) is split at ';'
    plain = pd.DataFrame({"type": [None, "Hub"], "services": ["Debt advice; food", None]})
    assert organisation_tokens(plain) == [frozenset({"debt_advice", "food"}), frozenset({"hub"})]


def test_basket_hand_checked(line):
    *_, cov = line
    b = basket_coverage(cov, ["food_bank", "advice", "computer access"])
    # walks: food bank (o0 only) 60/460/960 m; advice (o0 service, o1 type) 60/460/60 m;
    # computer access (o2) 460/60/460 m. 5 min = 400 m, 10 min = 800 m.
    t = b.totals.set_index("minutes")
    assert t.loc[5, "pop_basket"] == 0 and t.loc[10, "pop_basket"] == 300
    assert t.loc[10, "share_basket"] == 0.5 and b.share(10) == 0.5
    assert t.loc[10, "pop_without_food_bank"] == 300 and t.loc[5, "pop_without_advice"] == 200
    assert t.loc[5, "pop_without_computer_access"] == 400
    np.testing.assert_allclose(b.residents["walk_m_advice"], [60, 460, 60])
    np.testing.assert_allclose(b.residents["walk_m_computer_access"], [460, 60, 460])
    assert b.residents["basket_10min"].tolist() == [True, True, False]
    ls = b.lsoas.set_index("lsoa_code")
    assert ls.loc["L1", "share_basket_10min"] == 1.0 and ls.loc["L2", "share_basket_10min"] == 0.0
    assert ls.loc["L2", "share_advice_5min"] == 1.0
    assert b.wards["pop_basket_10min"].tolist() == [300]
    d = b.deciles.set_index("imd_decile")
    assert d.loc[1, "share_basket_10min"] == 1.0 and d.loc[9, "share_basket_10min"] == 0.0
    # food_bank is a coverage type met by exactly the same organisations: its stored columns
    # are used; advice also comes from a service, so it is computed on the network
    assert b.params["walks"]["food_bank"].startswith("coverage column")
    assert b.params["walks"]["advice"].startswith("computed (network) from 2")
    assert b.organisations["n_organisations"].tolist() == [1, 2, 1]
    assert "10 min: 300 people (50.0%)" in b.summary()


def test_basket_snaps_once_and_matches_snapping_each_requirement(line, monkeypatch):
    import cnmap.network.snap as snap
    from cnmap.network import distance_at_points, distance_to_nearest, snap_points

    net, _, res, orgs, cov = line
    calls = []
    real = snap.snap_points_together

    def counted(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(snap, "snap_points_together", counted)
    # advice and computer access are both computed on the network (no coverage column)
    b = basket_coverage(cov, ["advice", "computer access", "warm food"])
    assert calls == [2]  # the residents and the organisations, once, for three requirements
    monkeypatch.undo()
    P = snap_points(net, res.geometry.reset_index(drop=True))
    for name, rows in (("advice", [0, 1]), ("computer_access", [2]), ("warm_food", [2])):
        S_ = snap_points(net, orgs.geometry.iloc[rows].reset_index(drop=True))
        d = distance_at_points(net, distance_to_nearest(net, S_), P, sources=S_)
        np.testing.assert_array_equal(b.residents[f"walk_m_{name}"].to_numpy(), d.to_numpy())


def test_snap_result_take_is_snapping_those_points(line):
    from cnmap.network import snap_points

    net, _, _, orgs, _ = line
    every = snap_points(net, orgs.geometry)
    two = snap_points(net, orgs.geometry.iloc[[2, 0]])
    cut = every.take([2, 0])
    for name in ("edge", "u", "v", "fraction", "along_u_m", "access_m", "x", "y", "ok"):
        np.testing.assert_array_equal(getattr(cut, name), getattr(two, name))
    assert list(cut.index) == [2, 0] and len(cut) == 2
    masked = every.take(np.array([True, False, True]))
    assert list(masked.index) == [0, 2] and masked.access_m.tolist() == [
        every.access_m[0],
        every.access_m[2],
    ]
    with pytest.raises(ValidationError, match="needs 3 values"):
        every.take(np.array([True, False]))
    with pytest.raises(ValidationError, match="within 0..2"):
        every.take([3])


def test_alternatives_and_minutes(line):
    *_, cov = line
    b = basket_coverage(cov, {"food": ["food_bank", "warm food"]}, minutes=5)
    assert b.thresholds == (5,)
    assert b.totals["pop_basket"].tolist() == [300.0]  # 60, 60 and 460 m
    b2 = basket_coverage(cov, [["food_bank", "warm_food"], "advice"], minutes=[10])
    assert list(b2.requirements) == ["food_bank_or_warm_food", "advice"]
    assert b2.totals["pop_basket"].tolist() == [600.0]


def test_basket_is_never_more_than_any_requirement(line):
    *_, cov = line
    b = basket_coverage(cov, ["food_bank", "advice", "computer_access"])
    for t in (5, 10):
        for k in b.requirements:
            assert (b.residents[f"basket_{t}min"] <= b.residents[f"has_{k}_{t}min"]).all()


def test_crow_flies(line):
    net, area, res, orgs, _ = line
    cov = coverage(orgs, area, residents=res, minutes=[5], mode="crow_flies", detour_factor=1.0)
    b = basket_coverage(cov, ["advice", "computer_access"])
    np.testing.assert_allclose(
        b.residents["walk_m_advice"], [np.hypot(50, 10), np.hypot(450, 10), np.hypot(50, 10)]
    )
    assert b.totals["pop_basket"].tolist() == [0.0]


def test_errors(line):
    *_, cov = line
    with pytest.raises(ValidationError, match="no organisation has type or service 'digital'"):
        basket_coverage(cov, ["advice", "digital"])
    with pytest.raises(ValidationError, match="empty"):
        basket_coverage(cov, [])
    with pytest.raises(ValidationError, match="list of types"):
        basket_coverage(cov, 42)
    with pytest.raises(ValidationError, match="string or a list"):
        basket_coverage(cov, [3])
    with pytest.raises(ValidationError, match="given twice"):
        basket_coverage(cov, {"Advice": "advice", "advice": "advice"})
    with pytest.raises(ValidationError, match="no usable name"):
        basket_coverage(cov, {"--": "advice"})
    with pytest.raises(ValidationError, match="CoverageResult"):
        basket_coverage(cov.residents, ["advice"])
    with pytest.raises(ValidationError, match="positive"):
        basket_coverage(cov, ["advice"], minutes=-5)
    with pytest.raises(ValidationError, match="not among"):
        basket_coverage(cov, ["advice"]).share(20)


def test_real_seed_organisations_services(shared_data):
    import cnmap

    t = cnmap.read_organisations(shared_data / "birmingham/seed_organisations.csv")
    m = match_types(
        t.organisations,
        {
            "digital": ["computer_access"],
            "warm": "warm_space",
            "food": ["food", "food_bank", "food_pantry", "food_parcels", "warm_food"],
        },
    )
    names = t.organisations["name"]
    assert sorted(names[m["digital"]].str[:12]) == ["Brandwood Ce", "Laurel Road "]
    assert m["warm"].sum() == 4
    assert m["food"].sum() >= 6


@pytest.mark.slow
def test_birmingham_basket(shared_data):
    import cnmap
    from cnmap.network import read_walk_network
    from cnmap.pipeline import OrganisationSource, read_all_organisations

    D = shared_data / "birmingham"
    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs, _, _ = read_all_organisations(
        (
            OrganisationSource(
                path=D / "osm/warm_spaces_birmingham.geojson", label="warm", type="warm_space"
            ),
            OrganisationSource(
                path=D / "osm/foodbanks_birmingham.geojson", label="food", type="food_bank"
            ),
            OrganisationSource(path=D / "seed_organisations.csv", label="seed"),
        ),
        area,
    )
    net = read_walk_network(D / "osm/birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(orgs, area, network=net, minutes=[15, 20])
    b = basket_coverage(cov, {"warm": "warm_space", "food": ["food_bank", "food_pantry", "food"]})
    # 405 warm spaces by type + 4 seed organisations offering a warm space as a service: more
    # than the coverage's warm_space type, so the walks are computed on the network
    assert b.params["walks"]["warm"] == "computed (network) from 409 organisations"
    t = b.totals.set_index("minutes")
    warm = b.residents["has_warm_15min"].to_numpy(bool)
    assert (warm >= cov.residents["covered_15min_warm_space"].to_numpy(bool)).all()
    food = b.residents["has_food_15min"].to_numpy(bool)
    w = cov.residents["weight"].to_numpy(float)
    assert t.loc[15, "pop_basket"] == pytest.approx(w[warm & food].sum())
    assert t.loc[15, "share_basket"] < cov.share_covered(15)
    assert t.loc[15, "share_basket"] <= t.loc[20, "share_basket"]
    assert b.lsoas["population"].sum() == pytest.approx(w.sum())

"""thin_areas(domain=...) on a need layer's column: by hand on the street of tests/test_thin.py,
every error, then Birmingham on real data (disability share, DERI score, IoD2025 geographical
barriers sub-domain), each checked against a computation of its own from the raw files.

The street (see tests/test_thin.py): LSOAs A, B, C, D with 200, 400, 400, 400 residents of
whom 100%, 100%, 75% and 0% live within 15 minutes of the one organisation; wards W1 = A + B,
W2 = C + D. The hand-made layer's ``risk`` is 1, 4, 3, 2, so within the street's 4 LSOAs
(decile = ceil(10 x rank / 4), rank 1 = most need):

    higher_is_need  ranks A B C D   deciles A B C D
    True            4 1 2 3         10 3 5 8
    False           1 4 3 2         3 10 8 5
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnmap.coverage import coverage
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers import MissingLSOAError, NeedDomain, NeedLayer
from cnmap.thin import thin_areas
from tests.test_thin import A, B, C, D, orgs_at, street, street_area, street_residents


@pytest.fixture(scope="module")
def cov():
    return coverage(
        orgs_at([0]),
        street_area(),
        network=street(),
        residents=street_residents(),
        minutes=[5, 10, 15],
    )


def hand_layer(cov, codes=(A, B, C, D), risk=(1.0, 4.0, 3.0, 2.0), **extra) -> NeedLayer:
    table = pd.DataFrame({"lsoa_code": list(codes), "risk": list(risk), **extra})
    return NeedLayer(
        name="hand",
        title="A hand-made risk",
        table=table,
        lsoa_vintage=int(cov.parameters.lsoa_vintage or 2011),
        source="made by hand for the test",
        vintage="2026",
        licence="CC0",
        attribution="nobody",
        scores=("risk",),
        labels={"risk": "Hand risk"},
    )


# --------------------------------------------------------------------------------------------
# by hand


def test_within_area_deciles_and_flags_by_hand(cov):
    th = thin_areas(
        cov,
        domain=NeedDomain(hand_layer(cov), "risk", higher_is_need=True),
        max_decile=5,
        min_share_covered=0.8,
    )
    L = th.lsoas.set_index("lsoa_code")
    assert L["deprivation_rank"].tolist() == [4, 1, 2, 3]
    assert L["deprivation_decile"].tolist() == [10, 3, 5, 8]
    assert L["deprivation_score"].tolist() == [1.0, 4.0, 3.0, 2.0]
    assert L["thin"].tolist() == [False, False, True, False]  # C: decile 5, 75% < 80%
    assert L.loc[C, "reason"].startswith(
        "Hand risk decile 5 within Street; 100 residents more than 15 minutes' walk"
    )
    # wards: population-weighted average of the inverted ranks (N + 1 - rank, N = 4)
    W = th.wards.set_index("ward_code")
    assert W.loc["W1", "deprivation_average_rank"] == pytest.approx((200 * 1 + 400 * 4) / 600)
    assert W.loc["W2", "deprivation_average_rank"] == pytest.approx((400 * 3 + 400 * 2) / 800)
    assert W["deprivation_decile"].tolist() == [math.ceil(10 * 2.0 / 4), math.ceil(10 * 2.5 / 4)]
    p = th.params
    assert p["domain"] == "risk" and p["domain_requested"] == "hand:risk"
    assert p["n_lsoas_england"] == 4
    nd = p["need_domain"]
    assert nd["deciles"] == "within the area" and nd["n_ranked"] == 4
    assert nd["source"] == "made by hand for the test" and nd["licence"] == "CC0"
    assert "decile within Street's 4 LSOAs (by LSOA count" in nd["decile_scope"]
    assert "decile within Street's 4 LSOAs" in p["rule"]
    assert any(n.startswith("need measure: Hand risk (risk; higher = more need)") for n in th.notes)
    assert th.parameters.domain_label == "Hand risk"


def test_lower_is_need_reverses_the_ranks(cov):
    th = thin_areas(cov, domain=NeedDomain(hand_layer(cov), "risk", False), max_decile=5)
    L = th.lsoas.set_index("lsoa_code")
    assert L["deprivation_decile"].tolist() == [3, 10, 8, 5]
    assert L["thin"].tolist() == [False, False, False, True]  # D: decile 5, nobody covered
    assert th.params["need_domain"]["higher_is_need"] is False
    assert "lowest risk" in th.params["need_domain"]["decile_scope"]
    assert th.ranked("lsoas")["lsoa_code"].tolist() == [D]


def test_known_column_name_of_a_pair_takes_its_default_direction(cov):
    layer = hand_layer(cov, deri_score=[1.0, 4.0, 3.0, 2.0])
    th = thin_areas(cov, domain=(layer, "deri_score"), max_decile=5)
    assert th.params["need_domain"]["higher_is_need"] is True
    assert th.lsoas["deprivation_decile"].tolist() == [10, 3, 5, 8]


def test_errors_name_the_column_the_lsoas_and_the_fix(cov):
    layer = hand_layer(cov, kind=["a", "b", "c", "d"], mixed=["1", "2", "x", "4"])
    with pytest.raises(MissingColumnError, match=r"no column 'nope'; its columns are \['risk'"):
        NeedDomain(layer, "nope", True)
    with pytest.raises(ValidationError, match=r"'mixed' is not numeric: LSOA\(s\) E01000003"):
        NeedDomain(layer, "mixed", True)
    with pytest.raises(ValidationError, match="no default direction.*higher_is_need=True"):
        NeedDomain(layer, "risk")
    with pytest.raises(ValidationError, match="no default direction"):
        thin_areas(cov, domain=(layer, "risk"))
    short = hand_layer(cov, codes=(A, B, C), risk=(1.0, 2.0, 3.0))
    with pytest.raises(MissingLSOAError, match=r"no row for 1 LSOA\(s\).*E01000004.*covers"):
        thin_areas(cov, domain=NeedDomain(short, "risk", True))
    with pytest.raises(ValidationError, match="neither an IoD index"):
        thin_areas(cov, domain="disabled_shares")


def test_iod_names_still_read_the_coverage_columns(cov):
    th = thin_areas(cov, domain="imd")
    assert "need_domain" not in th.params
    assert th.lsoas["deprivation_decile"].tolist() == [1, 2, 1, 1]


# --------------------------------------------------------------------------------------------
# Birmingham, real data


MIRROR = Path(os.environ.get("CNMAP_DATA_MIRROR", ""))


@pytest.fixture(scope="module")
def bham(shared_data):
    import cnmap
    from cnmap.network import read_walk_network

    area = cnmap.load_area("E08000025")  # IoD2025 on the 659 LSOAs of 2021
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    return coverage(orgs, area, network=net, minutes=[5, 10, 15, 20])


def area_deciles(values: pd.Series, higher_is_need: bool = True) -> pd.Series:
    """Deciles within the LSOAs given, by LSOA count, ties at the lowest rank."""
    rank = values.rank(ascending=not higher_is_need, method="min")
    return np.ceil(10 * rank / values.notna().sum())


def expected_thin(cov, decile: pd.Series, max_decile: int = 2, min_share: float = 0.5) -> set:
    c = cov.lsoas.set_index("lsoa_code")
    share = c["pop_covered_15min"] / c["population"]
    flag = (decile.reindex(c.index) <= max_decile) & (share < min_share) & (c["population"] > 0)
    return set(c.index[flag])


def flagged(th) -> set:
    return set(th.lsoas.loc[th.lsoas["thin"].to_numpy(bool), "lsoa_code"])


@pytest.mark.slow
def test_birmingham_disability_share(bham, shared_data):
    raw = pd.read_csv(
        shared_data / "birmingham/census2021/census2021_ts038_disability_bsol_lsoa21.csv"
    )
    wide = raw.pivot(index="lsoa21_code", columns="disability", values="n")
    share = (wide["Disabled under the Equality Act"] / wide.sum(axis=1)).reindex(
        bham.lsoas["lsoa_code"]
    )
    decile = area_deciles(share)
    th = thin_areas(bham, domain="disabled_share", org_label="warm space")
    L = th.lsoas.set_index("lsoa_code")
    assert np.allclose(L["deprivation_score"], share.to_numpy())
    assert (L["deprivation_decile"].astype(float) == decile.to_numpy()).all()
    assert (decile == 1).sum() == 65 and (decile <= 2).sum() == 131  # 659 LSOAs, no ties
    assert flagged(th) == expected_thin(bham, decile)
    assert flagged(th) == {"E01008921", "E01009493", "E01009101", "E01009302"}
    top = th.ranked("lsoas").iloc[0]
    assert top["lsoa_code"] == "E01008921"  # Bartley Green: 5% within 15 minutes
    assert top["reason"].startswith(
        "Disabled under the Equality Act (share of residents) decile 2 within Birmingham; "
        "1,365 residents more than 15 minutes' walk from any warm space"
    )
    assert th.params["need_domain"]["source"].startswith(
        "Office for National Statistics, Census 2021 TS038"
    )
    assert "decile within Birmingham's 659 LSOAs" in th.params["need_domain"]["decile_scope"]
    assert th.wards["deprivation_decile"].notna().all()


@pytest.mark.slow
def test_birmingham_deri_score(bham, shared_data):
    deri = pd.read_csv(shared_data / "england/deri/deri_v1.6_national_england_lsoa11.csv")
    lk = pd.read_csv(
        shared_data / "england/lookups/LSOA11_LSOA21_LAD22_ExactFit_Lookup_EW_V3.csv",
        encoding="utf-8-sig",
    )
    codes = bham.lsoas["lsoa_code"]
    lk = lk.loc[lk["LSOA21CD"].isin(codes), ["LSOA11CD", "LSOA21CD", "CHGIND"]]
    assert set(lk["CHGIND"]) <= {"U", "S", "M"}  # no irregular change: a plain mean is exact
    by11 = deri.set_index("lsoa11_code")["deri_score_national"]
    score = lk.assign(s=by11.reindex(lk["LSOA11CD"]).to_numpy()).groupby("LSOA21CD")["s"].mean()
    score = score.reindex(codes)
    decile = area_deciles(score)
    th = thin_areas(bham, domain="deri_score", org_label="warm space")
    L = th.lsoas.set_index("lsoa_code")
    assert np.allclose(L["deprivation_score"], score.to_numpy())
    assert (L["deprivation_decile"].astype(float) == decile.to_numpy()).all()
    assert flagged(th) == expected_thin(bham, decile)
    assert flagged(th) == {"E01009026", "E01009101"}
    assert any(n.startswith("DERI is a risk index") for n in th.notes)  # GMCA's guidance
    assert any("Converted from LSOA 2011 to LSOA 2021" in n for n in th.notes)
    assert th.params["need_domain"]["vintage"].startswith("DERI v1.6")


@pytest.mark.slow
def test_birmingham_geographical_barriers_national(bham, shared_data):
    sub = pd.read_csv(shared_data / "england/iod2025/imd2025_england_lsoa21_subdomains.csv")
    sub = sub.set_index("lsoa21_code").reindex(bham.lsoas["lsoa_code"])
    decile = sub["geographical_barriers_decile"].astype(float)
    # national deciles: 15 minutes and 0.5 flag nobody; 0.8 flags a few
    th = thin_areas(bham, domain="iod2025_barriers_geographical", org_label="warm space")
    assert flagged(th) == expected_thin(bham, decile) == set()
    th = thin_areas(
        bham,
        domain="iod2025_barriers_geographical",
        max_decile=3,
        min_share_covered=0.8,
        org_label="warm space",
    )
    L = th.lsoas.set_index("lsoa_code")
    assert (L["deprivation_rank"] == sub["geographical_barriers_rank"]).all()
    assert (L["deprivation_decile"] == sub["geographical_barriers_decile"]).all()
    want = expected_thin(bham, decile, max_decile=3, min_share=0.8)
    assert (
        flagged(th)
        == want
        == {
            "E01009416",
            "E01009419",
            "E01009421",
            "E01009433",
            "E01009438",
            "E01009450",
        }
    )
    assert th.params["need_domain"]["deciles"] == "national"
    assert th.params["n_lsoas_england"] == 33755
    reason = th.ranked("lsoas")["reason"].iloc[0]
    assert reason.startswith("IoD2025 Geographical Barriers sub-domain") and "within" not in reason
    # the same index from the area's own IoD2025 columns gives the same flags
    same = thin_areas(bham, domain="barriers_geographical", max_decile=3, min_share_covered=0.8)
    assert flagged(same) == want
    assert np.allclose(same.wards["deprivation_average_rank"], th.wards["deprivation_average_rank"])


@pytest.mark.slow
def test_birmingham_thin_figure_with_a_need_domain(bham):
    from cnmap.maps import thin_figure

    th = thin_areas(bham, domain="disabled_share", org_label="warm space")
    from cnmap.maps.static import _thin_rule

    fig = thin_figure(th, result=bham)
    assert fig is not None
    assert "20% of the area's LSOAs with the most need by disabled_share" in _thin_rule(th.params)
    assert "most deprived in England" in _thin_rule(thin_areas(bham).params)
    th.summary()  # the summary reads the need label
    assert "Disabled under the Equality Act" in th.summary()

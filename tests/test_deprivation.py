"""Tests for cnmap.deprivation: MHCLG summary measures for groups of LSOAs.

Hand-checkable fixture ``fixtures/iod/five_lsoas_file7.csv`` (official File 7 headers), with
N = 100 LSOAs "in England" (``n_lsoas=100``) so that national percentile = rank:

=========  =====  ====  =====  ======  =====  ====  =====  ===============
LSOA       group  rank  score  pop     inc    emp   wa     reversed rank
=========  =====  ====  =====  ======  =====  ====  =====  ===============
E01000001  A        5   50       60    0.5    0.25   40    96
E01000002  A       15   30      340    0.3    0.10  200    86
E01000003  A       40   10      600    0.1    0.05  400    61
E01000004  B       10   40     1000    0.4    0.20  600    91
E01000005  B       25   20     1000    0.2    0.10  500    76
=========  =====  ====  =====  ======  =====  ====  =====  ===============

Group A (population 1,000):
- average score = (60*50 + 340*30 + 600*10) / 1000 = 19200 / 1000 = 19.2
- average rank  = (60*96 + 340*86 + 600*61) / 1000 = 71600 / 1000 = 71.6
- proportion in most deprived 10% = 1 of 3 LSOAs (rank 5 <= 10)
- extent: percentiles 5, 15, 40 -> weights 1, 0.95 - 4*0.9/19 = 14.45/19, 0
  = (60 + 340*14.45/19) / 1000 = (1140 + 4913) / 19000 = 6053/19000 = 0.318578...
- local concentration: 10% of 1,000 = 100 people: all 60 of E01000001 (96) and 40 of the
  340 of E01000002 (86, the partial LSOA) = (60*96 + 40*86) / 100 = 92.0
- income scale = 60*0.5 + 340*0.3 + 600*0.1 = 192; employment scale = 40*0.25 + 200*0.1 +
  400*0.05 = 50; employment average score (working-age weights) = 50/640 = 0.078125
Group B (population 2,000):
- average score = (40 + 20)/2 = 30; average rank = (91 + 76)/2 = 83.5
- proportion = 1 of 2 (rank 10 <= 10: the 10th percentile still counts)
- extent: percentiles 10, 25 -> 1, 0.95 - 14*0.9/19 = 5.45/19 -> (1 + 5.45/19)/2 = 24.45/38
- local concentration: 10% of 2,000 = 200, all from E01000004 (partial) -> 91.0
- income scale = 400 + 200 = 600; employment scale = 120 + 50 = 170; employment average
  score = 170/1100
Ranks across groups (1 = most deprived): B first for every measure except local
concentration (A: 92 > B: 91).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnmap import deprivation as dp
from cnmap import iod
from cnmap.errors import MissingColumnError, ValidationError

GROUPS = {"E01000001": "A", "E01000002": "A", "E01000003": "A", "E01000004": "B", "E01000005": "B"}


@pytest.fixture
def five_raw(fixtures_dir: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures_dir / "iod" / "five_lsoas_file7.csv", dtype=str)


@pytest.fixture
def five_summary(five_raw: pd.DataFrame) -> pd.DataFrame:
    return dp.summarise(five_raw, GROUPS, n_lsoas=100)


# ------------------------------------------------------------------ hand-checked figures


def test_average_score_and_rank(five_summary: pd.DataFrame) -> None:
    s = five_summary
    assert s.index.tolist() == ["A", "B"]
    assert s.index.name == "group"
    assert s["n_lsoas"].tolist() == [3, 2]
    assert s["population"].tolist() == [1000, 2000]
    assert s["imd_average_score"].tolist() == pytest.approx([19.2, 30.0])
    assert s["imd_average_rank"].tolist() == pytest.approx([71.6, 83.5])


def test_proportion_most_deprived_10(five_summary: pd.DataFrame) -> None:
    assert five_summary["imd_proportion_most_deprived_10"].tolist() == pytest.approx([1 / 3, 1 / 2])


def test_extent_taper(five_summary: pd.DataFrame) -> None:
    assert five_summary["imd_extent"].tolist() == pytest.approx(
        [6053 / 19000, 24.45 / 38], abs=1e-12
    )


def test_local_concentration_partial_lsoa(five_summary: pd.DataFrame) -> None:
    assert five_summary["imd_local_concentration"].tolist() == pytest.approx([92.0, 91.0])


def test_scale_and_domain_population(five_summary: pd.DataFrame) -> None:
    s = five_summary
    assert s["income_scale"].tolist() == pytest.approx([192.0, 600.0])
    assert s["employment_scale"].tolist() == pytest.approx([50.0, 170.0])
    assert s["income_average_score"].tolist() == pytest.approx([0.192, 0.3])
    # Employment is weighted by the working-age population, not the total
    assert s["employment_average_score"].tolist() == pytest.approx([50 / 640, 170 / 1100])


def test_total_population_weights_option(five_raw: pd.DataFrame) -> None:
    s = dp.summarise(five_raw, GROUPS, n_lsoas=100, population_weights="total")
    # A: (60*.25 + 340*.1 + 600*.05)/1000 = 79/1000; B: (200 + 100)/2000
    assert s["employment_average_score"].tolist() == pytest.approx([0.079, 0.15])
    assert s.attrs["population_weights"] == "total"


def test_ranks_across_groups(five_summary: pd.DataFrame) -> None:
    s = five_summary
    for m in (
        "imd_average_score",
        "imd_average_rank",
        "imd_proportion_most_deprived_10",
        "imd_extent",
        "income_scale",
        "employment_scale",
    ):
        assert s[f"rank_of_{m}"].tolist() == [2, 1], m
    assert s["rank_of_imd_local_concentration"].tolist() == [1, 2]
    assert str(s["rank_of_imd_extent"].dtype) == "Int64"


def test_absent_inputs_left_out(five_summary: pd.DataFrame) -> None:
    s = five_summary
    # income and employment have rates but no ranks/deciles: rank-based measures left out
    for m in ("average_rank", "extent", "local_concentration", "proportion_most_deprived_10"):
        assert f"income_{m}" not in s.columns
        assert f"employment_{m}" not in s.columns
        assert f"rank_of_income_{m}" not in s.columns
    left = s.attrs["left_out"]
    assert left["income_average_rank"] == "no income_rank column"
    assert left["income_proportion_most_deprived_10"] == ("no income_rank or income_decile column")
    assert not any(c.startswith(("education", "idaci")) for c in s.columns)
    assert s.attrs["domains"] == ["imd", "income", "employment"]
    assert s.attrs["n_lsoas_england"] == 100
    assert s.attrs["iod_edition"] == 2019
    assert "imd_extent" in s.attrs["measures"]


def test_column_order(five_summary: pd.DataFrame) -> None:
    cols = list(five_summary.columns)
    assert cols[:7] == [
        "n_lsoas",
        "population",
        "imd_average_score",
        "imd_average_rank",
        "imd_proportion_most_deprived_10",
        "imd_extent",
        "imd_local_concentration",
    ]
    assert cols.index("income_scale") < cols.index("rank_of_imd_average_score")


def test_group_by_column_official_header(five_raw: pd.DataFrame) -> None:
    by_col = dp.summarise(five_raw, "Local Authority District code (2019)", n_lsoas=100)
    by_short = dp.summarise(five_raw, "lad_code", n_lsoas=100)
    assert by_col.index.tolist() == ["E09000001", "E09000002"]
    assert by_col.index.name == "lad_code"
    pd.testing.assert_frame_equal(by_col, by_short)
    assert by_col["imd_local_concentration"].tolist() == pytest.approx([92.0, 91.0])


def test_mapping_as_series_and_input_untouched(five_raw: pd.DataFrame) -> None:
    before = five_raw.copy()
    s = dp.summarise(five_raw, pd.Series(GROUPS, name="patch"), n_lsoas=100)
    assert s.index.name == "patch"
    pd.testing.assert_frame_equal(five_raw, before)


def test_only_deciles_gives_proportion_only() -> None:
    t = pd.DataFrame(
        {"lsoa_code": ["E01000001", "E01000002"], "crime_decile": [1, 4], "pop_total": [5, 5]}
    )
    s = dp.summarise(t, {"E01000001": "g", "E01000002": "g"})
    assert s["crime_proportion_most_deprived_10"].item() == 0.5
    assert "crime_extent" not in s.columns
    assert s.attrs["left_out"]["crime_extent"] == "no crime_rank column"


def test_no_population_leaves_weighted_measures_out() -> None:
    t = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "imd_rank": [1, 5000]})
    s = dp.summarise(t, {"E01000001": "g", "E01000002": "g"})
    assert list(s.columns) == [
        "n_lsoas",
        "imd_proportion_most_deprived_10",
        "rank_of_imd_proportion_most_deprived_10",
    ]
    assert s.attrs["left_out"]["imd_average_rank"] == "no pop_total population column"
    assert s.attrs["left_out"]["population"].startswith("no total population")


def test_population_column_used_as_total() -> None:
    t = pd.DataFrame(
        {"lsoa_code": ["E01000001", "E01000002"], "imd_rank": [1, 101], "population": [100, 300]}
    )
    s = dp.summarise(t, {"E01000001": "g", "E01000002": "g"}, n_lsoas=1000)
    assert s["population"].item() == 400
    assert s["imd_average_rank"].item() == pytest.approx((100 * 1000 + 300 * 900) / 400)
    assert s.attrs["population_source"] == "population"


def test_blank_population_column_is_an_error_naming_the_lsoa() -> None:
    # before: the weighted measures silently vanished with the reason "no total population
    # column", although the column is there with one blank
    t = pd.DataFrame(
        {"lsoa_code": ["E01000001", "E01000002"], "imd_rank": [1, 101], "population": [100, np.nan]}
    )
    with pytest.raises(ValidationError, match=r"'population'.*\['E01000002'\]"):
        dp.summarise(t, {"E01000001": "g", "E01000002": "g"}, n_lsoas=1000)
    t["population"] = [100, -3]
    with pytest.raises(ValidationError, match=r"E01000002"):
        dp.summarise(t, {"E01000001": "g", "E01000002": "g"}, n_lsoas=1000)


def test_percentile_boundaries_2019() -> None:
    # N = 32,844: rank 3,284 is in the 10th percentile (100*3284/32844 = 9.9988), 3,285 in
    # the 11th; rank 9,853 in the 30th (29.9994), 9,854 in the 31st (30.0024).
    ranks = np.array([1, 3284, 3285, 9853, 9854, 32844])
    np.testing.assert_array_equal(dp._national_percentile(ranks, 32844), [1, 10, 11, 30, 31, 100])
    assert dp.extent_weight([10, 11, 30, 31]).tolist() == pytest.approx([1.0, 0.95, 0.05, 0.0])
    assert dp.extent_weight(20).item() == pytest.approx(0.95 - 9 * 0.9 / 19)


def test_iod2025_fixture(fixtures_dir: Path) -> None:
    """IoD2025 headers, N = 33,755 (hand-checked).

    IMD ranks 3375, 3376, 33700 with total population 1500, 1500, 1000 (4000):
    percentiles ceil(100r/N) = 10, 11, 100 -> extent (1500 + 1500*0.95)/4000 = 0.73125;
    proportion 1/3 (3375 <= 3375.5 < 3376); average rank (1500*30381 + 1500*30380 +
    1000*56)/4000 = 22799.375; local concentration: 400 people all in the first -> 30381.
    IDAOPI ranks 100, 33755, 20000 weighted by the 60+ population 300, 200, 500:
    average score (300*.41 + 200*.2 + 500*.05)/1000 = 0.188; average rank
    (300*33656 + 200*1 + 500*13756)/1000 = 16975; extent 300/1000; LC 33656.
    """
    s = dp.summarise(
        pd.read_csv(fixtures_dir / "iod" / "iod2025_file7_three_lsoas.csv"), "lad_code"
    )
    assert s.attrs["iod_edition"] == 2025 and s.attrs["n_lsoas_england"] == 33755
    r = s.loc["E06000099"]
    assert r["imd_extent"] == pytest.approx(0.73125)
    assert r["imd_proportion_most_deprived_10"] == pytest.approx(1 / 3)
    assert r["imd_average_rank"] == pytest.approx(22799.375)
    assert r["imd_local_concentration"] == pytest.approx(30381)
    assert r["imd_average_score"] == pytest.approx((1500 * 61.2 + 1500 * 40.5 + 1000 * 5.1) / 4000)
    assert r["idaopi_average_score"] == pytest.approx(0.188)
    assert r["idaopi_average_rank"] == pytest.approx(16975)
    assert r["idaopi_extent"] == pytest.approx(0.3)
    assert r["idaopi_local_concentration"] == pytest.approx(33656)


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def birmingham(shared_data: Path) -> pd.DataFrame:
    return iod.read_iod(shared_data / "birmingham" / "imd2019_lsoa_birmingham.csv")


def test_birmingham_reproduces_file10(birmingham: pd.DataFrame) -> None:
    """MHCLG File 10 (IoD2019 lower-tier LAD summaries), Birmingham E08000025."""
    s = dp.summarise(birmingham, "lad_code")
    assert s.index.tolist() == ["E08000025"]
    r = s.loc["E08000025"]
    assert r["n_lsoas"] == 639 and r["population"] == 1_112_305
    assert round(r["imd_proportion_most_deprived_10"], 4) == 0.4131
    assert r["imd_average_rank"] == pytest.approx(25319.55, abs=0.01)
    assert r["imd_average_score"] == pytest.approx(38.067, abs=0.0005)
    assert round(r["imd_extent"], 4) == 0.5792
    assert r["imd_extent"] == pytest.approx(0.579234, abs=5e-7)
    # File 10 Income / Employment average scores (3 dp): 0.222 and 0.153
    assert round(r["income_average_score"], 3) == 0.222
    assert round(r["employment_average_score"], 3) == 0.153
    # the partial file has only 3 score columns: the other average scores are left out
    assert set(s.attrs["left_out"]) == {
        f"{d}_average_score"
        for d in (
            "education",
            "health",
            "crime",
            "barriers",
            "living_environment",
            "idaci",
            "idaopi",
        )
    }
    assert r["income_scale"] == pytest.approx(246679.31)
    assert r["employment_scale"] == pytest.approx(101549.689)


def test_birmingham_same_from_official_layout(shared_data: Path, birmingham: pd.DataFrame) -> None:
    raw = pd.read_csv(shared_data / "birmingham" / "imd2019_lsoa_birmingham.csv")
    a = dp.summarise(raw, "Local Authority District code (2019)")
    b = dp.summarise(birmingham, "lad_code")
    pd.testing.assert_frame_equal(a, b)


def test_birmingham_wards(shared_data: Path, birmingham: pd.DataFrame) -> None:
    lookup = pd.read_csv(shared_data / "birmingham" / "lsoa2011_ward2018_bestfit_birmingham.csv")
    wards = dp.summarise(birmingham, lookup.set_index("lsoa11cd")["ward_code"])
    assert len(wards) == 69
    assert wards["n_lsoas"].sum() == 639
    assert wards["population"].sum() == 1_112_305
    assert sorted(wards["rank_of_imd_average_rank"]) == list(range(1, 70))
    assert sorted(wards["rank_of_imd_average_score"]) == list(range(1, 70))
    assert wards["imd_extent"].between(0, 1).all()
    assert wards["imd_average_rank"].between(1, 32844).all()
    # local concentration looks at the most deprived tenth: never below the average rank
    assert (wards["imd_local_concentration"] >= wards["imd_average_rank"] - 1e-9).all()
    # average rank and average score order the wards almost identically
    rho = wards["imd_average_rank"].corr(wards["imd_average_score"], method="spearman")
    assert rho > 0.95


def test_warrington_full_file7_all_average_scores(shared_data: Path) -> None:
    t = iod.read_iod(shared_data / "iod2019_file7_sample_warrington.csv")
    s = dp.summarise(t, "lad_code")
    assert s.attrs["left_out"] == {}
    for d in iod.DOMAINS:
        for m in dp.MEASURES:
            assert f"{d}_{m}" in s.columns
    # IDACI is weighted by children 0-15, independently recomputed here
    w = t["pop_children_0_15"]
    assert s["idaci_average_score"].item() == pytest.approx((t["idaci_score"] * w).sum() / w.sum())
    assert s["imd_proportion_most_deprived_10"].item() == pytest.approx(
        (t["imd_decile"] == 1).mean()
    )


def test_ward_profiles_on_area(shared_data: Path, birmingham: pd.DataFrame) -> None:
    import geopandas as gpd

    from cnmap.area import Area

    lookup = pd.read_csv(shared_data / "birmingham" / "lsoa2011_ward2018_bestfit_birmingham.csv")
    wards = gpd.read_file(shared_data / "birmingham" / "wards.geojson").to_crs(27700)
    geo = gpd.read_file(shared_data / "birmingham" / "lsoa2011.geojson").to_crs(27700)
    lsoas = (
        geo[["lsoa11cd", "geometry"]]
        .rename(columns={"lsoa11cd": "lsoa_code"})
        .merge(birmingham, on="lsoa_code")
        .merge(
            lookup[["lsoa11cd", "ward_code", "ward_name"]].rename(
                columns={"lsoa11cd": "lsoa_code"}
            ),
            on="lsoa_code",
        )
    )
    lsoas["population"] = lsoas["pop_total"]
    area = Area(
        lad_code="E08000025",
        lad_name="Birmingham",
        wards=wards,
        lsoas=lsoas,
        boundary=wards.dissolve(),
        lookup=lookup,
        sources=pd.DataFrame(),
    )
    before = area.lsoas.copy()
    prof = dp.ward_profiles(area)
    pd.testing.assert_frame_equal(area.lsoas, before)
    assert len(prof) == 69 and prof.index.name == "ward_code"
    assert list(prof.columns[:3]) == ["ward_name", "n_lsoas", "population"]
    assert (
        prof.loc["E05011118", "ward_name"]
        == wards.set_index("ward_code").loc["E05011118", "ward_name"]
    )
    assert sorted(prof["rank_of_imd_average_rank"]) == list(range(1, 70))
    assert prof.attrs["lad_code"] == "E08000025"
    direct = dp.summarise(birmingham, lookup.set_index("lsoa11cd")["ward_code"])
    np.testing.assert_allclose(
        prof["imd_average_rank"].to_numpy(), direct["imd_average_rank"].to_numpy()
    )
    only = dp.ward_profiles(area, domains=["imd"])
    assert not any(c.startswith("income") for c in only.columns)


# ------------------------------------------------------------------ error paths


def test_error_unknown_group_column(five_raw: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError, match=r"group column 'ward' not in the table"):
        dp.summarise(five_raw, "ward")


def test_error_lsoa_without_group(five_raw: pd.DataFrame) -> None:
    partial = {k: v for k, v in GROUPS.items() if k != "E01000003"}
    with pytest.raises(
        ValidationError,
        match=r"1 LSOA\(s\) of the table have no group in the "
        r"mapping: \['E01000003'\]",
    ):
        dp.summarise(five_raw, partial, n_lsoas=100)


def test_error_blank_group_value() -> None:
    t = pd.DataFrame(
        {"lsoa_code": ["E01000001", "E01000002"], "imd_rank": [1, 2], "ward": ["W1", None]}
    )
    with pytest.raises(
        ValidationError,
        match=r"1 LSOA\(s\) have no value in group column "
        r"'ward': \['E01000002'\]",
    ):
        dp.summarise(t, "ward")


def test_error_mapping_repeats_lsoa(five_raw: pd.DataFrame) -> None:
    m = pd.Series(["A", "B"], index=["E01000001", "E01000001"])
    with pytest.raises(ValidationError, match=r"lists LSOA\(s\) \['E01000001'\] more than once"):
        dp.summarise(five_raw, m)


def test_error_by_wrong_type(five_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"by must be a column name or an LSOA-to-group"):
        dp.summarise(five_raw, 3)  # type: ignore[arg-type]


def test_error_population_weights(five_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"population_weights='children'"):
        dp.summarise(five_raw, GROUPS, population_weights="children")  # type: ignore[arg-type]


def test_error_unknown_domain(five_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"domains \['poverty'\] are not IoD indices"):
        dp.summarise(five_raw, GROUPS, domains=["imd", "poverty"])


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_error_n_lsoas_invalid(five_raw: pd.DataFrame, bad: object) -> None:
    with pytest.raises(ValidationError, match=r"n_lsoas=.* must be a positive whole number"):
        dp.summarise(five_raw, GROUPS, n_lsoas=bad)  # type: ignore[arg-type]


def test_error_n_lsoas_below_max_rank(five_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"'imd_rank' has rank 40 > n_lsoas=30"):
        dp.summarise(five_raw, GROUPS, n_lsoas=30)


def test_error_no_iod_columns() -> None:
    t = pd.DataFrame({"lsoa_code": ["E01000001"], "pop_total": [5]})
    with pytest.raises(MissingColumnError, match=r"no score, rank or decile column"):
        dp.summarise(t, {"E01000001": "g"})


def test_error_invalid_iod_values_propagate() -> None:
    t = pd.DataFrame({"lsoa_code": ["E01000001"], "imd_decile": [12]})
    with pytest.raises(ValidationError, match=r"deciles outside 1\.\.10"):
        dp.summarise(t, {"E01000001": "g"})


def test_ward_profiles_errors(five_raw: pd.DataFrame) -> None:
    from cnmap.area import Area

    t = iod.read_iod(five_raw)
    kw = dict(
        lad_code="E09000001",
        lad_name="Alpha",
        boundary=pd.DataFrame(),
        lookup=pd.DataFrame(),
        sources=pd.DataFrame(),
    )
    no_ward = Area(wards=pd.DataFrame({"ward_code": ["W1"]}), lsoas=t, **kw)
    with pytest.raises(MissingColumnError, match=r"have no 'ward_code' column"):
        dp.ward_profiles(no_ward)
    t2 = t.assign(ward_code=["W1"] * 5, ward_name=["One"] * 5)
    empty_ward = Area(
        wards=pd.DataFrame({"ward_code": ["W1", "W2"], "ward_name": ["One", "Two"]}), lsoas=t2, **kw
    )
    with pytest.raises(ValidationError, match=r"ward\(s\) \['W2'\] .* have no LSOA assigned"):
        dp.ward_profiles(empty_ward)


# ------------------------------------------------------------------ properties

N_PROP = 1000


@st.composite
def lsoa_tables(draw: st.DrawFn) -> pd.DataFrame:
    k = draw(st.integers(min_value=1, max_value=12))
    ranks = draw(st.lists(st.integers(1, N_PROP), min_size=k, max_size=k, unique=True))
    pops = draw(st.lists(st.integers(0, 3000), min_size=k, max_size=k))
    if sum(pops) == 0:
        pops[0] = 1
    scores = draw(st.lists(st.floats(-3, 80, allow_nan=False), min_size=k, max_size=k))
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=k, max_size=k))
    return pd.DataFrame(
        {
            "lsoa_code": [f"E01{i:06d}" for i in range(k)],
            "imd_score": scores,
            "imd_rank": ranks,
            "pop_total": pops,
            "g": groups,
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rank=st.integers(1, N_PROP), pop=st.integers(1, 5000), score=st.floats(-3, 80, allow_nan=False)
)
@pytest.mark.slow
def test_property_single_lsoa_group(rank: int, pop: int, score: float) -> None:
    t = pd.DataFrame(
        {"lsoa_code": ["E01000001"], "imd_score": [score], "imd_rank": [rank], "pop_total": [pop]}
    )
    r = dp.summarise(t, {"E01000001": "x"}, n_lsoas=N_PROP).iloc[0]
    rev = N_PROP + 1 - rank
    assert r["imd_average_score"] == pytest.approx(score)
    assert r["imd_average_rank"] == pytest.approx(rev)
    assert r["imd_local_concentration"] == pytest.approx(rev)
    assert r["imd_proportion_most_deprived_10"] == (1.0 if rank * 10 <= N_PROP else 0.0)
    p = -(-100 * rank // N_PROP)
    assert r["imd_extent"] == pytest.approx(dp.extent_weight(p).item())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=lsoa_tables(), seed=st.integers(0, 2**32 - 1))
@pytest.mark.slow
def test_property_permutation_invariance_and_bounds(table: pd.DataFrame, seed: int) -> None:
    a = dp.summarise(table, "g", n_lsoas=N_PROP)
    shuffled = table.sample(frac=1.0, random_state=seed)
    b = dp.summarise(shuffled, "g", n_lsoas=N_PROP)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert a["n_lsoas"].sum() == len(table)
    for g, rows in table.groupby("g"):
        rev = N_PROP + 1 - rows["imd_rank"]
        r = a.loc[g]
        if rows["pop_total"].sum() > 0:
            assert 0.0 <= r["imd_extent"] <= 1.0
            assert rev.min() - 1e-9 <= r["imd_average_rank"] <= rev.max() + 1e-9
            # the most deprived tenth is at least as deprived as the whole group
            assert r["imd_local_concentration"] >= r["imd_average_rank"] - 1e-6
            assert r["imd_local_concentration"] <= rev.max() + 1e-9
        else:
            assert pd.isna(r["imd_average_rank"])


# ------------------------------------------------------------------ IoD2025 ward profiles


def test_birmingham_iod2025_ward_profiles(shared_data: Path) -> None:
    from cnmap.data import load_area

    area = load_area("E08000025", postcodes=False)
    assert area.iod == 2025
    prof = dp.ward_profiles(area)
    assert len(prof) == 69 and int(prof["n_lsoas"].sum()) == 659
    assert int(prof["population"].sum()) == 1_154_221  # mid-2022 denominators
    # the district's share, recovered from the wards' shares: 282 of 659
    n10 = (prof["imd_proportion_most_deprived_10"] * prof["n_lsoas"]).round().sum()
    assert int(n10) == 282
    assert prof.attrs["iod_edition"] == 2025 and prof.attrs["n_lsoas_england"] == 33_755
    # IDACI and IDAOPI are weighted by children and older people, as in File 10
    assert prof.attrs["left_out"] == {}
    w = area.lsoas.groupby("ward_code").apply(
        lambda g: np.average(g["idaci_score"], weights=g["pop_children_0_15"]), include_groups=False
    )
    assert np.allclose(prof["idaci_average_score"], w.reindex(prof.index))
    sub = dp.ward_profiles(area, domains=list(iod.SUBDOMAINS))
    assert sub["barriers_geographical_average_rank"].notna().all()

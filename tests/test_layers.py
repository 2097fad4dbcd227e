"""cnmap.layers: need layer readers (hand-made files and the real mirror), the LSOA 2011 <-> 2021
conversion (hand-checked, totals conserved, property-tested), join_layers' errors, score bands,
and the runnable examples of docs/need_layers.md."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import cnmap.layers as L
from cnmap.area import Area
from cnmap.errors import DataFetchError, MissingColumnError, ValidationError
from cnmap.layers.base import NeedLayer
from cnmap.layers.census import pivot_long

ROOT = Path(__file__).resolve().parents[1]
BHAM = "E08000025"


# ---------------------------------------------------------------------------------------------
# hand-made layers and lookups


def count_layer(codes, total, a, vintage=2021, scores=None) -> NeedLayer:
    table = pd.DataFrame({"lsoa_code": codes, "t": total, "a": a})
    table["b"] = table["t"] - table["a"]
    extra: dict = {}
    if scores is not None:
        table["s"] = scores
        extra["scores"] = ("s",)
    return NeedLayer(
        name="hand",
        title="hand-made",
        table=table,
        lsoa_vintage=vintage,
        source="hand",
        vintage="now",
        licence="none",
        attribution="",
        total="t",
        groups=("a", "b"),
        **extra,
    )


def lookup(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["lsoa11_code", "lsoa21_code", "change"])


# U: A -> A; S: B -> B1, B2; M: C, D -> CD
LOOKUP = lookup(
    [("A", "A", "U"), ("B", "B1", "S"), ("B", "B2", "S"), ("C", "CD", "M"), ("D", "CD", "M")]
)


def test_split_shares_counts_by_population_and_repeats_scores() -> None:
    layer = count_layer(
        ["A", "B", "C", "D"],
        [100, 400, 50, 70],
        [10, 40, 5, 7],
        vintage=2011,
        scores=[1.0, 2.0, 3.0, 5.0],
    )
    w = pd.Series({"A": 1.0, "B1": 100.0, "B2": 300.0, "CD": 9.0})
    out = L.convert_layer(layer, 2021, lookup=LOOKUP, weights=w).table.set_index("lsoa_code")
    assert list(out.index) == ["A", "B1", "B2", "CD"]
    assert out.loc["B1", "t"] == pytest.approx(100.0) and out.loc["B2", "t"] == pytest.approx(300.0)
    assert out.loc["B1", "a"] == pytest.approx(10.0) and out.loc["B2", "a"] == pytest.approx(30.0)
    assert out.loc["CD", "t"] == 120 and out.loc["CD", "a"] == 12  # merge: summed
    assert out.loc["B1", "s"] == 2.0 and out.loc["B2", "s"] == 2.0  # split: repeated
    assert out.loc["CD", "s"] == pytest.approx(4.0)  # merge: mean of the parents
    assert out.loc["CD", "a_share"] == pytest.approx(0.1)
    assert out["t"].sum() == pytest.approx(620.0)


def test_reverse_direction_shares_merged_counts_by_the_2011_population() -> None:
    layer = count_layer(["A", "B1", "B2", "CD"], [100, 150, 250, 120], [10, 15, 25, 60])
    w = pd.Series({"A": 1.0, "B": 1.0, "C": 1.0, "D": 3.0})
    out = L.convert_layer(layer, 2011, lookup=LOOKUP, weights=w).table.set_index("lsoa_code")
    assert out.loc["B", "t"] == 400 and out.loc["B", "a"] == 40
    assert out.loc["C", "t"] == pytest.approx(30.0) and out.loc["D", "t"] == pytest.approx(90.0)
    assert out.loc["D", "a"] == pytest.approx(45.0)
    assert out["t"].sum() == pytest.approx(620.0)


def test_zero_population_targets_share_equally() -> None:
    layer = count_layer(["B"], [10], [4], vintage=2011)
    out = L.convert_layer(layer, 2021, lookup=LOOKUP, weights=pd.Series({"B1": 0.0, "B2": 0.0}))
    assert out.table.set_index("lsoa_code")["t"].to_dict() == {"B1": 5.0, "B2": 5.0}


def test_split_without_weights_is_an_error_naming_the_fix() -> None:
    layer = count_layer(["A", "B"], [1, 2], [0, 1], vintage=2011)
    with pytest.raises(ValidationError, match="weights="):
        L.convert_layer(layer, 2021, lookup=LOOKUP)
    with pytest.raises(L.MissingLSOAError, match="B2"):
        L.convert_layer(layer, 2021, lookup=LOOKUP, weights=pd.Series({"B1": 5.0}))


def test_targets_missing_a_source_are_left_out_and_join_names_them() -> None:
    layer = count_layer(["A", "C"], [10, 20], [1, 2], vintage=2011)  # D is absent: CD is unknown
    out = L.convert_layer(layer, 2021, lookup=LOOKUP, weights=pd.Series(dtype=float))
    assert list(out.codes) == ["A"]
    table = pd.DataFrame({"lsoa_code": ["A", "CD"], "population": [1.0, 1.0]})
    with pytest.raises(L.MissingLSOAError, match=r"after conversion from LSOA 2011.*: CD"):
        L.join_layers(table, layer, lsoa_vintage=2021, lookup=LOOKUP)


@st.composite
def random_lookups(draw):
    rows, n = [], draw(st.integers(1, 12))
    for i in range(n):
        kind = draw(st.sampled_from("USMX"))
        if kind == "U":
            rows.append((f"a{i}", f"b{i}"))
        elif kind == "S":
            rows += [(f"a{i}", f"b{i}_{k}") for k in range(draw(st.integers(2, 4)))]
        elif kind == "M":
            rows += [(f"a{i}_{k}", f"b{i}") for k in range(draw(st.integers(2, 3)))]
        else:  # irregular: two sources sharing two targets
            rows += [(f"a{i}_0", f"b{i}_0"), (f"a{i}_0", f"b{i}_1"), (f"a{i}_1", f"b{i}_1")]
    return pd.DataFrame(rows, columns=["lsoa11_code", "lsoa21_code"])


@settings(max_examples=60, deadline=None)
@given(lk=random_lookups(), seed=st.integers(0, 10_000), to=st.sampled_from([2011, 2021]))
@pytest.mark.slow
def test_conversion_conserves_every_count(lk: pd.DataFrame, seed: int, to: int) -> None:
    rng = np.random.default_rng(seed)
    src, dst = ("lsoa11_code", "lsoa21_code") if to == 2021 else ("lsoa21_code", "lsoa11_code")
    codes = lk[src].unique()
    total = rng.integers(0, 2000, len(codes)).astype(float)
    layer = count_layer(
        codes, total, np.floor(total * rng.random(len(codes))), vintage=2011 if to == 2021 else 2021
    )
    targets = lk[dst].unique()
    weights = pd.Series(rng.integers(0, 50, len(targets)).astype(float), index=targets)
    out = L.convert_layer(layer, to, lookup=lk, weights=weights).table
    assert set(out["lsoa_code"]) == set(targets)
    for col in ("t", "a", "b"):
        assert out[col].sum() == pytest.approx(layer.table[col].sum(), rel=1e-12, abs=1e-9)
    assert np.allclose(out["a"] + out["b"], out["t"])
    share = out["a_share"].dropna()
    assert ((share >= -1e-12) & (share <= 1 + 1e-12)).all()


# ---------------------------------------------------------------------------------------------
# join_layers


def hand_table() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"lsoa_code": ["Y", "X"], "population": [5.0, 7.0]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:27700",
        index=[10, 20],
    )


def test_join_keeps_type_index_order_and_input() -> None:
    table = hand_table()
    before = table.copy()
    layer = count_layer(["X", "Y", "Z"], [10, 20, 30], [1, 2, 3])
    out = L.join_layers(table, layer, lsoa_vintage=2021)
    assert isinstance(out, gpd.GeoDataFrame) and list(out.index) == [10, 20]
    assert out["t"].tolist() == [20, 10] and out["a"].tolist() == [2, 1]
    pd.testing.assert_frame_equal(table, before)


def test_join_errors() -> None:
    table = hand_table()
    layer = count_layer(["X"], [10], [1])
    with pytest.raises(L.MissingLSOAError, match=r"1 LSOA\(s\).*: Y"):
        L.join_layers(table, layer, lsoa_vintage=2021)
    with pytest.raises(ValidationError, match="say which LSOA vintage"):
        L.join_layers(table, layer)
    with pytest.raises(MissingColumnError, match="on='code'"):
        L.join_layers(table, layer, on="code", lsoa_vintage=2021)
    full = count_layer(["X", "Y"], [10, 5], [1, 1])
    with pytest.raises(ValidationError, match="already in the table"):
        L.join_layers(table, [full, full], lsoa_vintage=2021)


def test_join_takes_an_area_and_its_vintage() -> None:
    t = hand_table()
    area = Area(
        lad_code="X",
        lad_name="X",
        wards=t,
        lsoas=t,
        boundary=t,
        lookup=t,
        sources=pd.DataFrame(),
        lsoa_vintage=2021,
    )
    out = L.join_layers(area, count_layer(["X", "Y"], [10, 5], [1, 1]))
    assert out["t"].tolist() == [5, 10]
    with pytest.raises(ValidationError, match="area's LSOAs are 2021"):
        L.join_layers(area, count_layer(["X", "Y"], [10, 5], [1, 1]), lsoa_vintage=2011)


def test_layer_checks() -> None:
    table = pd.DataFrame({"lsoa_code": ["X", "X"], "t": [1, 1], "a": [1, 1]})
    common: dict[str, Any] = dict(
        name="n", title="t", lsoa_vintage=2021, source="s", vintage="v", licence="l", attribution=""
    )
    with pytest.raises(ValidationError, match="more than once"):
        NeedLayer(table=table, total="t", groups=("a",), **common)
    with pytest.raises(ValidationError, match="negative"):
        NeedLayer(
            table=table.assign(lsoa_code=["X", "Y"], a=[1, -1]), total="t", groups=("a",), **common
        )
    with pytest.raises(ValidationError, match="not among its groups"):
        NeedLayer(table=table.iloc[:1], total="t", groups=("a",), combined={"c": ("z",)}, **common)
    with pytest.raises(MissingColumnError, match=r"\['zz'\]"):
        NeedLayer(table=table.iloc[:1], scores=("zz",), **common)


def test_mirror_path_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CNMAP_DATA_MIRROR", raising=False)
    with pytest.raises(DataFetchError, match="CNMAP_DATA_MIRROR is not set"):
        L.read_deri()
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path))
    with pytest.raises(DataFetchError, match="pass path="):
        L.read_age()


# ---------------------------------------------------------------------------------------------
# readers on hand-made files


def test_pivot_long_checks_every_category_and_the_total() -> None:
    mapping = {"p": "g_p", "q": "g_q"}
    long = pd.DataFrame(
        {
            "lsoa21_code": ["X", "X", "Y", "Y"],
            "c": ["p", "q", "p", "q"],
            "n": [1, 2, 3, 4],
            "tot": [3, 3, 7, 7],
        }
    )
    wide = pivot_long(long, category="c", total="tot", mapping=mapping, total_name="g", where="t")
    assert wide.to_dict("list") == {
        "lsoa_code": ["X", "Y"],
        "g": [3, 7],
        "g_p": [1, 3],
        "g_q": [2, 4],
    }
    with pytest.raises(ValidationError, match="do not have each"):
        pivot_long(
            long.iloc[:3], category="c", total="tot", mapping=mapping, total_name="g", where="t"
        )
    with pytest.raises(ValidationError, match="do not add up.*Y"):
        pivot_long(
            long.assign(tot=[3, 3, 8, 8]),
            category="c",
            total="tot",
            mapping=mapping,
            total_name="g",
            where="t",
        )
    with pytest.raises(ValidationError, match="unknown 'c' values \\['r'\\]"):
        pivot_long(
            long.assign(c=["p", "q", "p", "r"]),
            category="c",
            total="tot",
            mapping=mapping,
            total_name="g",
            where="t",
        )


def test_readers_on_small_files(tmp_path: Path) -> None:
    ts038 = tmp_path / "ts038.csv"
    ts038.write_text(
        "lsoa21_code,ltla24_code,disability,n,total_residents,prop\n"
        "E1,E8,Disabled under the Equality Act,3,10,0.3\n"
        "E1,E8,Not disabled under the Equality Act,7,10,0.7\n",
        encoding="utf-8",
    )
    dis = L.read_disability(ts038)
    assert dis.table.loc[0, ["disability_total", "disabled", "disabled_share"]].tolist() == [
        10,
        3,
        0.3,
    ]
    assert dis.lsoa_vintage == 2021 and "Open Government Licence v3.0" == dis.licence
    rm = tmp_path / "rm121.csv"
    rm.write_text(
        "lsoa21_code,lsoa21_name,Total,Aged 65 years,Aged 66 to 69 years,"
        "Aged 70 to 74 years,Aged 75 to 79 years,Aged 80 to 84 years,"
        "Aged 85 years and over\nE1,x,100,1,2,3,4,5,6\n",
        encoding="utf-8",
    )
    age = L.read_age(rm).table.iloc[0]
    assert (age["age_0_64"], age["age_65_plus"], age["age_75_plus"]) == (79, 21, 15)
    rm.write_text(rm.read_text().replace("E1,x,100", "E1,x,20"), encoding="utf-8")
    with pytest.raises(ValidationError, match="exceed the total in LSOA\\(s\\) E1"):
        L.read_age(rm)
    bad = tmp_path / "bad.csv"
    bad.write_text("lsoa11_code,deri_score_national\nE1,2\n", encoding="utf-8")
    with pytest.raises(MissingColumnError, match="broadband_comp_national"):
        L.read_deri(bad)


def test_score_bands_by_hand() -> None:
    layer = NeedLayer(
        name="d",
        title="d",
        lsoa_vintage=2021,
        source="s",
        vintage="v",
        licence="l",
        attribution="",
        scores=("s",),
        table=pd.DataFrame({"lsoa_code": list("ABCDEFGHIJ"), "s": [5, 1, 9, 3, 7, 2, 8, 4, 6, 0]}),
    )
    pop = pd.Series(np.arange(1.0, 11.0), index=list("ABCDEFGHIJ"))
    b = L.score_bands(layer, "s", population=pop)
    t = b.table.set_index("lsoa_code")
    assert t.loc[["C", "G"], "s_q1"].tolist() == [3.0, 7.0]  # the two highest scores
    assert t.loc[["B", "J"], "s_q5"].tolist() == [2.0, 10.0]
    assert t["s_band"].to_dict()["E"] == 2 and b.groups == ("s_q1", "s_q2", "s_q3", "s_q4", "s_q5")
    assert np.allclose(t[list(b.groups)].sum(axis=1), t["s_all"])
    low = L.score_bands(layer, "s", population=pop, higher_is_worse=False, bands=2)
    assert low.table.set_index("lsoa_code")["s_band"].to_dict()["J"] == 1
    ref = layer.with_table(pd.DataFrame({"lsoa_code": list("ABCD"), "s": [0, 0, 0, 100]}))
    r = L.score_bands(layer, "s", population=pop, bands=2, reference=ref)  # median 0: all > 0 high
    assert r.table.set_index("lsoa_code")["s_band"].to_dict() == {
        **{c: 1 for c in "ABCDEFGHI"},
        "J": 2,
    }
    with pytest.raises(L.MissingLSOAError, match="Z"):
        L.score_bands(layer, "s", population=pd.Series({"Z": 1.0}))


# ---------------------------------------------------------------------------------------------
# the real mirror: Birmingham


@pytest.fixture(scope="module")
def census(shared_data: Path) -> dict[str, NeedLayer]:
    return {
        "eth": L.read_ethnic_group(),
        "dis": L.read_disability(),
        "hh": L.read_household_deprivation(),
        "age": L.read_age(),
    }


@pytest.fixture(scope="module")
def bham_codes(shared_data: Path) -> list[str]:
    lk = pd.read_csv(shared_data / "england" / "lookups" / "lookup_lsoa21_ward24_ltla24_ew.csv")
    return sorted(lk.loc[lk["ltla24_code"] == BHAM, "lsoa21_code"])


def _nomis_total(path: Path, codes: set[str]) -> int:
    """Birmingham's usual residents straight from Nomis's raw RM121 export (own parser)."""
    total = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.reader(f):
            if row and " : " in row[0] and row[0].split(" : ")[0] in codes:
                total += int(row[1])
    return total


def test_rm121_reproduces_the_census_count(census, bham_codes, shared_data: Path) -> None:
    age = census["age"].subset(bham_codes).table
    raw = _nomis_total(
        shared_data / "england" / "census2021" / "census2021_rm121_nomis_export_lsoa21_ew.csv",
        set(bham_codes),
    )
    assert len(bham_codes) == 659 and raw > 1_000_000
    assert int(age["age_total"].sum()) == raw == 1_144_931  # PROVENANCE.md's figure
    assert np.array_equal(age[list(census["age"].groups)].sum(axis=1), age["age_total"])


def test_census_layers_partition_and_shares(census, bham_codes, shared_data: Path) -> None:
    long = pd.read_csv(
        shared_data / "birmingham" / "census2021" / "census2021_ts021_ethnic_group_bsol_lsoa21.csv"
    )
    long = long[long["lsoa21_code"].isin(bham_codes)]
    by_group = long.groupby("ethnic_group")["n"].sum()
    eth = census["eth"].subset(bham_codes).table
    assert eth["ethnic_white"].sum() == by_group["White"]
    assert round(eth["ethnic_white"].sum() / eth["ethnic_total"].sum(), 3) == 0.486
    for layer in census.values():
        t = layer.subset(bham_codes).table
        assert np.array_equal(t[list(layer.groups)].sum(axis=1), t[layer.total])
        for combo, parts in layer.combined.items():
            assert np.array_equal(t[list(parts)].sum(axis=1), t[combo])
        shares = t[[c for c in t.columns if c.endswith("_share")]].to_numpy(float)
        assert ((shares >= 0) & (shares <= 1)).all()
        assert layer.attribution.startswith("Source: Office for National Statistics")
    hh = census["hh"].subset(bham_codes).table
    assert hh["households_total"].sum() == 423_447 and census["hh"].unit == "households"


@pytest.mark.slow
def test_join_to_birmingham_2021_and_2011(census, shared_data: Path) -> None:
    import cnmap

    a21 = cnmap.load_area(BHAM, lsoa_vintage=2021, iod=2025)
    a11 = cnmap.load_area(BHAM, lsoa_vintage=2011, iod=2019)
    layers = list(census.values())
    j21 = L.join_layers(a21, layers)
    j11 = L.join_layers(a11, layers)  # through the ONS LSOA11 -> LSOA21 lookup
    assert len(j21) == 659 and len(j11) == 639
    counts = [c for ly in layers for c in ly.counts]
    assert not j21[counts].isna().any().any() and not j11[counts].isna().any().any()
    for c in counts:  # every Birmingham 2011 LSOA maps inside Birmingham: totals conserved
        assert j11[c].sum() == pytest.approx(j21[c].sum(), rel=1e-12), c
    assert j11["ethnic_total"].sum() == 1_144_941
    changed = ~j11["lsoa_code"].isin(j21["lsoa_code"])
    assert changed.sum() == 23  # 2011 LSOAs whose code did not survive: split or merged
    shares = j11[[c for c in j11.columns if c.endswith("_share")]].to_numpy(float)
    assert ((shares >= -1e-12) & (shares <= 1 + 1e-12)).all()


@pytest.mark.slow
def test_deri_on_2021_lsoas_matches_the_mirrors_mapped_table(bham_codes) -> None:
    mapped = L.read_deri(lsoa_vintage=2021).subset(bham_codes).table.set_index("lsoa_code")
    table = pd.DataFrame({"lsoa_code": bham_codes, "population": 1.0})
    joined = L.join_layers(table, L.read_deri(), lsoa_vintage=2021).set_index("lsoa_code")
    for col in L.deri.DERI_COLUMNS.values():
        assert np.allclose(joined[col], mapped[col], rtol=0, atol=1e-12), col
    assert joined["deri_score"].between(1.359, 4.909).all()
    merged = mapped.loc["E01034935", "deri_score"]
    assert merged == pytest.approx((3.898 + 3.978) / 2, abs=1e-3)  # PROVENANCE.md's parents
    assert any("how not" in n.lower() or "targets" in n for n in L.read_deri().notes)


def test_iod2025_layer_equals_file7(bham_codes, shared_data: Path) -> None:
    iod = L.read_iod2025().subset(bham_codes).table.set_index("lsoa_code")
    f7 = pd.read_csv(
        shared_data / "birmingham" / "iod2025" / "iod2025_file7_birmingham_solihull.csv"
    )
    code = next(c for c in f7.columns if c.startswith("LSOA code"))
    f7 = f7.set_index(code).loc[bham_codes]
    inc = next(c for c in f7.columns if c.startswith("Income Score"))
    geo = next(c for c in f7.columns if c.startswith("Geographical Barriers Sub-domain Score"))
    assert np.allclose(iod["iod2025_income_score"], f7[inc])
    assert np.allclose(iod["iod2025_barriers_geographical_score"], f7[geo])
    assert (iod["iod2025_imd_decile"] == 1).sum() == 282  # PROVENANCE.md: 282 of 659


def test_missing_lsoas_are_named(census, bham_codes) -> None:
    table = pd.DataFrame({"lsoa_code": [*bham_codes[:3], "E01013799"]})  # a Rutland LSOA
    with pytest.raises(L.MissingLSOAError, match="E01013799"):
        L.join_layers(table, census["eth"], lsoa_vintage=2021)
    L.join_layers(table, census["age"], lsoa_vintage=2021)  # RM121 covers England and Wales


# ---------------------------------------------------------------------------------------------
# docs/need_layers.md: every python block runs


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


@pytest.mark.slow
def test_docs_examples_run(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "need_layers.md").read_text(encoding="utf-8")
    blocks = _blocks(text)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "need_layers.md", "exec"), namespace)  # noqa: S102
    for phrase in (
        "Open Government Licence v3.0",
        "how not to use",
        "split",
        "merge",
        "population share",
        "Census 2021 TS021",
        "IoD2025",
        "RM121",
    ):
        assert phrase.lower() in text.lower(), phrase


@pytest.mark.slow
def test_report_layers_on_both_vintages(shared_data: Path) -> None:
    import cnmap

    totals = {}
    for vintage, iod in ((2021, 2025), (2011, 2019)):
        area = cnmap.load_area(BHAM, lsoa_vintage=vintage, iod=iod)
        got = L.report_layers(area)
        assert [ly.name for ly in got] == [
            "ethnic_group",
            "disability",
            "household_deprivation",
            "age",
            "deri_score_bands",
        ]
        for ly in got:
            assert ly.lsoa_vintage == vintage
            assert list(ly.codes) == list(area.lsoas["lsoa_code"])
            assert np.allclose(ly.table[list(ly.groups)].sum(axis=1), ly.table[ly.total])
        totals[vintage] = [ly.table[ly.total].sum() for ly in got]
        q1 = got[-1].table["deri_score_q1"]
        assert (q1 > 0).sum() == len(area.lsoas) // 5  # 131 of 659, 127 of 639
    assert np.allclose(totals[2021], totals[2011])
    assert totals[2021][0] == 1_144_941


def test_catalogued_copies_for_a_district_equal_the_england_files(bham_codes) -> None:
    """With lad_code=, the readers take cnmap.data.fetch's verified copy for the district."""
    england = L.read_age().subset(bham_codes).table.reset_index(drop=True)
    district = L.read_age(lad_code=BHAM)
    assert "bsol" in district.source  # the Birmingham and Solihull file of the catalogue
    pd.testing.assert_frame_equal(district.subset(bham_codes).table.reset_index(drop=True), england)
    solihull = L.read_iod2025(lad_code="E08000029")
    assert len(solihull.table) == 134
    pd.testing.assert_frame_equal(
        L.read_iod2025().subset(solihull.codes).table.reset_index(drop=True),
        solihull.table.reset_index(drop=True),
    )
    assert len(L.read_lsoa_lookup()) == 35_796

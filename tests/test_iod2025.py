"""IoD2025 on 2021 LSOAs: the official File 7 rows and the all-England tables, MHCLG's
published check figures (File 10), load_area for any district, population choices and
Code-Point Open postcodes, all on the real shared mirror."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnmap.area import Area
from cnmap.data import load_area, load_codepoint, load_lsoa_change_lookup, load_postcodes
from cnmap.deprivation import summarise
from cnmap.errors import MissingColumnError, OptionalDependencyError, ValidationError
from cnmap.iod import DOMAINS, SUBDOMAINS, read_iod, short_name_for

BHAM, SOL, RUT, WESTMINSTER = "E08000025", "E08000029", "E06000017", "E09000033"
FILE7 = "birmingham/iod2025/iod2025_file7_birmingham_solihull.csv"
ENGLAND = "england/iod2025/imd2025_england_lsoa21.csv"
ENGLAND_SUB = "england/iod2025/imd2025_england_lsoa21_subdomains.csv"
LOOKUP = "england/lookups/lookup_lsoa21_ward24_ltla24_ew.csv"


@pytest.fixture(scope="module")
def file7(shared_data) -> pd.DataFrame:
    return read_iod(shared_data / FILE7)


@pytest.fixture(scope="module")
def england(shared_data) -> pd.DataFrame:
    return read_iod(shared_data / ENGLAND)


@pytest.fixture(scope="module")
def bham(shared_data) -> Area:
    return load_area(BHAM, postcodes=False)


@pytest.fixture(scope="module")
def rutland(shared_data) -> Area:
    return load_area(RUT)


@pytest.fixture(scope="module")
def solihull(shared_data) -> Area:
    return load_area(SOL)


# ------------------------------------------------------------------------------- File 7


def test_official_file7_is_read_with_every_column(file7, shared_data):
    assert len(file7) == 793 and file7.attrs["iod_edition"] == 2025
    assert file7.attrs["iod_edition_source"] == "headers" and file7.attrs["unknown_columns"] == []
    assert file7.shape[1] == 56
    for d in DOMAINS + SUBDOMAINS:
        for m in ("score", "rank", "decile"):
            assert f"{d}_{m}" in file7.columns, (d, m)
    assert "pop_16_59" not in file7.columns  # not in IoD2025 File 7
    # one header is truncated in the source ("... 10% of LSO") and is still recognised
    raw = pd.read_csv(shared_data / FILE7, nrows=0).columns
    cut = [h for h in raw if h.endswith("10% of LSO")]
    assert cut == [raw[36]]
    assert short_name_for(raw[36]) == "education_children_young_people_decile"
    # the IDAOPI header lacks "Index" in the file
    assert short_name_for(raw[31]) == "idaopi_score"
    assert file7["lad_code"].value_counts().to_dict() == {BHAM: 659, SOL: 134}


def test_file7_denominators_and_first_row(file7, shared_data):
    b = file7[file7["lad_code"] == BHAM]
    assert int(b["pop_total"].sum()) == 1_154_221
    assert int(b["pop_children_0_15"].sum()) == 254_906
    assert int(b["pop_60_plus"].sum()) == 205_840
    assert int(b["pop_working_age"].sum()) == 733_329
    text = (shared_data / FILE7).read_bytes().split(b"\r\n")[1].decode().split(",")
    first = file7.iloc[0]
    assert first["lsoa_code"] == text[0] == "E01008881"
    assert first["imd_score"] == pytest.approx(float(text[4]))
    assert first["imd_rank"] == int(text[5]) and first["imd_decile"] == int(text[6])


@pytest.mark.slow
def test_england_table_matches_file7_exactly(file7, england, shared_data):
    assert len(england) == 33_755 and england["lsoa_code"].is_unique
    assert england.attrs["iod_edition"] == 2025
    assert england["imd_rank"].min() == 1 and england["imd_rank"].max() == 33_755
    sub = read_iod(shared_data / ENGLAND_SUB)
    both = file7.merge(england, on="lsoa_code", suffixes=("", "_eng")).merge(
        sub, on="lsoa_code", suffixes=("", "_sub")
    )
    assert len(both) == 793
    compared = 0
    for col in england.columns[1:].tolist() + sub.columns[1:].tolist():
        other = f"{col}_eng" if f"{col}_eng" in both else f"{col}_sub"
        assert (both[col] == both[other]).all(), col
        compared += 1
    assert compared == 42  # IMD + 7 domains + 6 sub-domains, x score, rank, decile


# ------------------------------------------------------------------- MHCLG summary measures


def test_file10_check_figures_from_the_official_rows(file7):
    r = summarise(file7, "lad_code")
    b, s = r.loc[BHAM], r.loc[SOL]
    # File 10 (v1) as printed; see birmingham/iod2025/PROVENANCE.md check 4
    assert round(b["imd_proportion_most_deprived_10"], 4) == 0.4279
    assert round(b["imd_proportion_most_deprived_10"] * 659) == 282
    assert round(s["imd_proportion_most_deprived_10"], 4) == 0.1343
    assert round(b["imd_average_score"], 3) == 38.115 and round(s["imd_average_score"], 3) == 17.040
    assert round(b["income_average_score"], 3) == 0.417
    assert round(b["employment_average_score"], 3) == 0.214  # working-age weights
    assert round(b["idaci_average_score"], 3) == 0.617  # children 0-15
    assert round(b["idaopi_average_score"], 3) == 0.293  # 60 and over
    assert round(b["imd_average_rank"], 2) == 25_089.35
    assert round(s["imd_average_rank"], 2) == 12_647.41
    assert round(b["idaci_average_rank"], 2) == 27_051.44
    assert b["idaopi_average_rank"] == pytest.approx(21_797.06, abs=0.01)
    assert r.attrs["left_out"] == {} and r.attrs["n_lsoas_england"] == 33_755
    for d in DOMAINS:
        for m in (
            "average_rank",
            "average_score",
            "proportion_most_deprived_10",
            "extent",
            "local_concentration",
        ):
            assert np.isfinite(r[f"{d}_{m}"]).all(), (d, m)


def test_birmingham_ranks_second_of_296_districts(england, shared_data):
    lookup = pd.read_csv(shared_data / LOOKUP, dtype=str)
    lad_of = lookup.set_index("lsoa21_code")["ltla24_code"]
    r = summarise(england, lad_of[lad_of.str.startswith("E")])
    assert len(r) == 296 and int(r["n_lsoas"].sum()) == 33_755
    col = "imd_proportion_most_deprived_10"
    assert r.loc[BHAM, col] == pytest.approx(282 / 659)
    assert int(r.loc[BHAM, f"rank_of_{col}"]) == 2
    assert r[col].idxmax() == "E06000002"  # Middlesbrough, 0.5
    # the all-England table has no denominators: weighted measures are left out, not guessed
    assert "imd_average_score" in r.attrs["left_out"]


def test_subdomain_summaries(file7):
    r = summarise(
        file7, "lad_code", domains=["barriers_geographical", "living_environment_indoors"]
    )
    assert list(r.attrs["domains"]) == ["barriers_geographical", "living_environment_indoors"]
    geo = r["barriers_geographical_proportion_most_deprived_10"]
    # a dense city is rarely far from services: almost no LSOA in the worst 10% of access
    assert geo.loc[BHAM] < 0.02 and 0 <= geo.loc[SOL] <= 1


# ------------------------------------------------------------------------------ load_area


def test_birmingham_default_area(bham):
    ls = bham.lsoas
    assert (bham.lsoa_vintage, bham.iod) == (2021, 2025)
    assert len(ls) == 659 and len(bham.wards) == 69
    assert int((ls["imd_decile"] == 1).sum()) == 282
    assert int(ls["population"].sum()) == 1_154_221  # mid-2022 denominators
    assert (ls["population"] == ls["pop_total"]).all()
    for c in (
        "idaci_score",
        "idaopi_rank",
        "barriers_geographical_score",
        "education_children_young_people_rank",
        "education_adult_skills_decile",
        "living_environment_indoors_score",
        "living_environment_outdoors_rank",
    ):
        assert ls[c].notna().all(), c
    p = bham.params
    assert p["population"] == "iod2025" and "mid-2022" in p["population_source"]
    assert p["iod_dataset"] == "iod2025_file7" and p["lsoa_dataset"] == "lsoa2021"
    assert p["wards_dataset"] == "wards" and p["wards_vintage"].startswith("2018 ward pattern")
    assert "its wards equal the 2024 pattern" in p["ward_vintage"]
    s = bham.sources.set_index("id")
    assert s.loc["iod2025_file7", "read_from"] in {f"mirror:{FILE7}", f"mirror:{FILE7} (cached)"}
    assert "English Indices of Deprivation 2025" in s.loc["iod2025_file7", "attribution"]


def test_birmingham_census_population(shared_data):
    area = load_area(BHAM, population="census2021", postcodes=False)
    ls = area.lsoas
    assert int(ls["population"].sum()) == 1_144_931
    assert (ls["population"] == ls["census2021_usual_residents"]).all()
    assert int(ls["pop_total"].sum()) == 1_154_221  # the IoD denominators stay as IoD columns
    assert (ls["census2021_aged_65_plus"] < ls["census2021_usual_residents"]).all()
    assert area.params["population"] == "census2021"
    assert "census2021_rm121" in set(area.sources["id"])


@pytest.mark.slow
def test_solihull(solihull):
    assert len(solihull.lsoas) == 134 and len(solihull.wards) == 17
    # full File 7 rows exist for Solihull: IoD denominators by default
    assert int(solihull.lsoas["population"].sum()) == 217_784
    assert int((solihull.lsoas["imd_decile"] == 1).sum()) == 18
    assert solihull.params["wards_dataset"] == "wards_bsc"  # no 20 m wards at hand
    assert solihull.params["lsoa_dataset"] == "lsoa2021"  # the BSol ICB's 20 m copy
    assert any("no 20 m (BGC) ward boundaries" in n for n in solihull.notes)
    pc = solihull.postcodes
    assert solihull.params["postcodes"] == "codepoint_open" and len(pc) == 4_705
    assert set(pc.columns) >= {"postcode", "lat", "lon", "easting", "northing", "lsoa21_code"}
    assert int(pc["lsoa21_code"].isin(set(solihull.lsoas["lsoa_code"])).sum()) == 4_681


def test_rutland_from_its_own_files(rutland, shared_data):
    ls = rutland.lsoas
    assert len(ls) == 26 and len(rutland.wards) == 15
    assert int(ls["population"].sum()) == 41_056
    assert rutland.params["population"] == "census2021"  # no denominators in that table
    assert rutland.params["iod_dataset"] == "iod2025_domains"
    assert rutland.params["wards_dataset"] == "wards" and rutland.params["lsoa_dataset"] == (
        "lsoa2021"
    )  # 20 m boundaries
    assert ls["imd_decile"].value_counts().sort_index().to_dict() == {6: 4, 7: 5, 8: 9, 9: 6, 10: 2}
    assert ls["barriers_geographical_rank"].notna().all()  # sub-domains joined
    assert "idaci_score" not in ls.columns and "pop_total" not in ls.columns
    master = pd.read_csv(shared_data / "rutland" / "rutland_lsoa21_master.csv")
    m = master.set_index("lsoa21_code")["census2021_usual_residents_RM121"]
    mine = ls.set_index("lsoa_code")["population"]
    assert (mine.sort_index() == m.sort_index()).all()
    pc = rutland.postcodes
    assert len(pc) == 1_279 and rutland.params["postcodes"] == "codepoint_open"
    # Rutland's copy carries the 20 m (BGC) point-in-polygon LSOA
    assert pc["lsoa21_code"].isin(set(ls["lsoa_code"])).all()
    assert pc.groupby("lsoa21_code").size().between(28, 83).all()


def test_rutland_refuses_iod_population(shared_data):
    with pytest.raises(
        MissingColumnError,
        match=r"population='iod': the IoD2025 table used for "
        r"E06000017 has no population denominators.*population='census2021'",
    ):
        load_area(RUT, population="iod", postcodes=False)


@pytest.mark.slow
def test_any_district_from_the_national_files(shared_data):
    area = load_area(WESTMINSTER, postcodes=False)
    lookup = pd.read_csv(shared_data / LOOKUP, dtype=str)
    codes = set(lookup.loc[lookup["ltla24_code"] == WESTMINSTER, "lsoa21_code"])
    assert set(area.lsoas["lsoa_code"]) == codes and len(codes) == 123
    assert area.lad_name == "Westminster" and len(area.wards) == 18
    assert area.params["lsoa_dataset"] == "lsoa2021_bsc"
    assert area.params["wards_dataset"] == "wards_bsc"
    census = pd.read_csv(
        shared_data / "england/census2021/census2021_rm121_usual_residents_lsoa21_ew.csv",
        dtype={"Total": int},
    ).set_index("lsoa21_code")
    assert int(area.lsoas["population"].sum()) == int(census.loc[sorted(codes), "Total"].sum())
    assert area.lsoas.geometry.is_valid.all() and area.lsoas.crs.to_epsg() == 27700
    assert set(area.lsoas["ward_code"]) <= set(area.wards["ward_code"])
    read = set(area.sources["read_from"].str.removesuffix(" (cached)"))
    assert f"mirror:{ENGLAND}" in read and f"mirror:{ENGLAND_SUB}" in read


def test_census_population_missing_an_lsoa_is_an_error(tmp_path, monkeypatch, shared_data):
    mirror = tmp_path / "m"
    mirror.mkdir()
    src = pd.read_csv(shared_data / "rutland/rutland_census2021_RM121_population_lsoa21.csv")
    src[src["lsoa21_code"] != "E01013790"].to_csv(mirror / "census.csv", index=False)
    (mirror / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "census2021_rm121"\npath = "census.csv"\nlad_codes = ["*"]\n'
    )
    monkeypatch.setenv("CNMAP_DATA_MIRROR", f"{mirror}:{shared_data}")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        ValidationError,
        match=r"population='census2021': 1 LSOA\(s\) of "
        r"E06000017 have no Census 2021 RM121 row in mirror:census.csv: "
        r"\['E01013790'\]",
    ):
        load_area(RUT, postcodes=False)


def test_iod2019_results_unchanged_when_asked_for(shared_data):
    area = load_area(BHAM, lsoa_vintage=2011, iod=2019, postcodes=False)
    assert len(area.lsoas) == 639 and int(area.lsoas["population"].sum()) == 1_112_305
    assert int((area.lsoas["imd_decile"] == 1).sum()) == 264  # 0.4131, File 10 2019


# ---------------------------------------------------------------------------- Code-Point


def test_codepoint_rutland_matches_the_published_rows(shared_data):
    pc = load_codepoint(RUT)
    raw = pd.read_csv(shared_data / "rutland/rutland_codepo_2025.4_rows_verbatim.csv", header=None)
    assert len(pc) == len(raw) == 1_279
    assert pc.attrs["postcode_source"] == "codepoint_open"
    row = pc.set_index("postcode").loc["LE15 0BJ"]
    assert (row["easting"], row["northing"]) == (486_119.0, 308_841.0)
    assert row["lat"] == pytest.approx(52.670447) and row["lon"] == pytest.approx(-0.727878)
    assert row["lsoa21_code"] == "E01013799" and row["ward_code"] == "E05012641"
    assert (pc["lad_code"] == RUT).all()


def test_codepoint_from_the_publishers_zip(tmp_path, monkeypatch, shared_data):
    """The publisher's layout (Data/CSV/<area>.csv without header), built from the verbatim
    Rutland rows: positions converted here, LSOAs by point in polygon in the area's LSOAs."""
    rows = (shared_data / "rutland/rutland_codepo_2025.4_rows_verbatim.csv").read_text()
    by_area: dict[str, list[str]] = {}
    for line in rows.splitlines():
        area = line.split(",")[0].strip('"')[:2].rstrip("0123456789").lower()
        by_area.setdefault(area, []).append(line)
    mirror = tmp_path / "m"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "codepo_gb.zip", "w") as zf:
        for a, lines in by_area.items():
            zf.writestr(f"Data/CSV/{a}.csv", "\r\n".join(lines) + "\r\n")
    (mirror / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "codepoint_open"\npath = "codepo_gb.zip"\nlad_codes = ["*"]\n'
        'postcode_areas = ["*"]\n'
    )
    monkeypatch.setenv("CNMAP_DATA_MIRROR", f"{mirror}:{shared_data}")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    area = load_area(RUT, postcodes=False)
    pc = load_codepoint(RUT, lsoas=area.lsoas)
    ref = pd.read_csv(shared_data / "rutland/rutland_codepo_2025.4_wgs84_lsoa21pip.csv")
    ref = ref.set_index("Postcode").loc[pc["postcode"]]
    assert len(pc) == 1_279 and pc.attrs["source"] == "mirror:codepo_gb.zip"
    # lon/lat from easting/northing within a few metres of the mirror's Helmert values
    assert np.abs(pc["lat"].to_numpy() - ref["lat"].to_numpy()).max() < 1e-4
    assert np.abs(pc["lon"].to_numpy() - ref["lon"].to_numpy()).max() < 1e-4
    # point in polygon against the same 20 m polygons gives the mirror's BGC LSOAs
    agree = (pc["lsoa21_code"].to_numpy() == ref["lsoa21_code_pip_bgc"].to_numpy()).mean()
    assert agree > 0.999
    le = load_codepoint(postcode_area="PE")
    assert len(le) == 191 and "lsoa21_code" not in le.columns


@pytest.mark.slow
def test_codepoint_england_parquet(shared_data):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(OptionalDependencyError, match=r"Parquet, which needs pyarrow"):
            load_codepoint(BHAM)
        return
    pc = load_codepoint(BHAM)
    assert int((pc["admin_district_code"] == BHAM).sum()) == 21_652
    assert (
        pc.attrs["source"]
        .removesuffix(" (cached)")
        .endswith("codepo_2025.4_england_wgs84_lsoa21pip_bsc.parquet")
    )
    le = load_postcodes(postcode_area="LE", source="codepoint")
    assert le["postcode"].str.startswith("LE").all()


def test_postcode_source_is_chosen_and_recorded(shared_data):
    assert load_postcodes(RUT).attrs["postcode_source"] == "codepoint_open"  # no NSPL copy
    with pytest.raises(ValidationError, match=r"source='ons'; use one of"):
        load_postcodes(RUT, source="ons")


def test_lsoa_change_lookup(shared_data):
    lk = load_lsoa_change_lookup(BHAM)
    assert lk["lsoa21_code"].nunique() == 659 and lk["lsoa11_code"].nunique() == 639
    assert lk["change"].value_counts().to_dict() == {"U": 616, "S": 42, "M": 2}


def test_read_iod_accepts_the_tidy_england_names():
    t = pd.DataFrame(
        {
            "lsoa21_code": ["E01000001"],
            "Housing_and_Services_rank": [29220],
            "Environment_decile": [1],
            "geographical_barriers_score": [4.437],
        }
    )
    out = read_iod(t)
    assert out.attrs["iod_edition"] == 2025 and out.attrs["iod_edition_source"] == "headers"
    assert list(out.columns) == [
        "lsoa_code",
        "barriers_rank",
        "living_environment_decile",
        "barriers_geographical_score",
    ]


def test_mirror_paths_in_docs_exist(shared_data):
    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    for path in (
        "england/iod2025/imd2025_england_lsoa21.csv",
        FILE7,
        "england/boundaries/lsoa21_bsc_v4_england_wgs84.gpkg",
    ):
        folder, name = path.rsplit("/", 1)
        assert f"`{folder}/`" in text and name in text, path
        assert (shared_data / path).is_file(), path

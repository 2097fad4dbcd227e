"""load_area / load_postcodes on real Birmingham data (shared mirror) and a hand-made
second district (Warrington squares + the real Warrington IoD2019 File 7 rows)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnmap.area import Area
from cnmap.data import load_area, load_postcodes
from cnmap.data.loaders import check_lad_code
from cnmap.errors import DataFetchError, UnknownAreaError, ValidationError

BHAM = "E08000025"
WARR = "E06000007"
BHAM_POP = 1_112_305


@pytest.fixture(scope="module")
def bham(shared_data) -> Area:
    return load_area(BHAM, lsoa_vintage=2011, iod=2019)


@pytest.fixture(scope="module")
def bham21(shared_data) -> Area:
    return load_area(BHAM, lsoa_vintage=2021, iod=2019, postcodes=False)


@pytest.fixture(scope="module")
def other_mirror(shared_data, fixtures_dir):
    """CNMAP_DATA_MIRROR = the hand-made Warrington mirror, then the shared one."""
    value = f"{fixtures_dir / 'mirror_other_lad'}{os.pathsep}{shared_data}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNMAP_DATA_MIRROR", value)
        yield value


@pytest.fixture(scope="module")
def warr(other_mirror) -> Area:
    return load_area(WARR, lsoa_vintage=2011, iod=2019)


@pytest.fixture(scope="module")
def warr21(other_mirror) -> Area:
    return load_area(WARR, lsoa_vintage=2021, iod=2019)


@pytest.fixture(scope="module")
def warr_file7(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "iod2019_file7_sample_warrington.csv")


def _valid_bng(*frames) -> None:
    for f in frames:
        assert f.crs.to_epsg() == 27700
        assert f.geometry.is_valid.all() and not f.geometry.is_empty.any()


# ---------------------------------------------------------------------------- Birmingham


@pytest.mark.slow
def test_birmingham_acceptance(bham):
    assert bham.lad_code == BHAM and bham.lad_name == "Birmingham"
    assert len(bham.wards) == 69 and len(bham.lsoas) == 639
    assert bham.wards["ward_code"].tolist() == [f"E05011{n}" for n in range(118, 187)]
    assert (bham.wards["lad_code"] == BHAM).all()
    # every LSOA matched to its IoD row
    assert bham.lsoas["imd_rank"].notna().all() and bham.lsoas["pop_total"].notna().all()
    assert int(bham.lsoas["population"].sum()) == BHAM_POP
    assert (bham.lsoas["population"] == bham.lsoas["pop_total"]).all()
    _valid_bng(bham.wards, bham.lsoas, bham.boundary)
    assert bham.lsoa_vintage == 2011 and bham.iod == 2019
    # published check figure: 264 of 639 in England's most deprived 10%
    assert int((bham.lsoas["imd_decile"] == 1).sum()) == 264


def test_birmingham_columns_and_one_ward_per_lsoa(bham):
    cols = bham.lsoas.columns.tolist()
    assert cols[:4] == ["lsoa_code", "lsoa_name", "ward_code", "ward_name"]
    for c in (
        "imd_score",
        "imd_rank",
        "imd_decile",
        "income_score",
        "employment_score",
        "education_rank",
        "idaopi_decile",
        "pop_children_0_15",
        "pop_working_age",
        "population",
    ):
        assert c in cols, c
    assert "education_score" not in cols  # partial file: only 3 scores, never invented
    assert bham.lsoas["lsoa_code"].is_unique
    assert bham.lsoas["ward_code"].notna().all()
    assert set(bham.lsoas["ward_code"]) == set(bham.wards["ward_code"])
    lk = bham.lookup
    assert lk.columns.tolist() == ["lsoa_code", "ward_code", "ward_name", "method"]
    assert lk["lsoa_code"].is_unique and len(lk) == 639
    assert lk["method"].value_counts().to_dict() == {
        "ons_lsoa21_wd22_lookup_same_code": 616,
        "area_overlay_max_share": 23,
    }
    ward_sizes = bham.lsoas.groupby("ward_code").size()
    assert ward_sizes.min() == 5 and ward_sizes.max() == 15


def test_birmingham_boundary_and_sources(bham, shared_data):
    b = bham.boundary
    assert len(b) == 1 and b["lad_code"].iloc[0] == BHAM
    assert "dissolved from the 69 ward boundaries" in b["source"].iloc[0]
    assert b.area.iloc[0] == pytest.approx(bham.wards.area.sum(), rel=1e-6)
    assert b.area.iloc[0] / 1e6 == pytest.approx(267.8, abs=0.5)  # km²
    s = bham.sources.set_index("id")
    assert set(s.index) == {
        "lsoa2021_ward_lookup",
        "wards",
        "lsoa2011",
        "lsoa2011_ward_bestfit",
        "iod2019_file7",
        "postcodes",
    }
    assert list(bham.sources.columns) == [
        "id",
        "title",
        "publisher",
        "vintage",
        "licence",
        "attribution",
        "url",
        "read_from",
        "sha256",
    ]
    assert s.loc["iod2019_file7", "read_from"].startswith(
        "mirror:birmingham/imd2019_lsoa_birmingham.csv"
    )
    assert "CC BY 4.0" in s.loc["iod2019_file7", "attribution"]
    assert s.loc["iod2019_file7", "url"].startswith("https://assets.publishing.service.gov.uk/")
    assert s.loc["wards", "sha256"] == (
        "d26fde6612963ad81458b02b838d3e4c890bfd0a03b25867e08d25f8228c8047"
    )
    assert any("Royal Mail" in a for a in bham.attribution())


def test_birmingham_postcodes(bham, shared_data):
    pc = bham.postcodes
    raw = pd.read_csv(shared_data / "birmingham/osm/postcodes_B.csv", dtype=str)
    lookup = pd.read_csv(shared_data / "birmingham/lsoa2021_ward2022_lad2022_lookup_birmingham.csv")
    expected = raw[raw["lsoa21cd"].isin(set(lookup["LSOA21CD"]))]
    assert len(pc) == len(expected) == 35_025
    assert set(pc.columns) >= {
        "postcode",
        "lat",
        "lon",
        "easting",
        "northing",
        "lsoa21_code",
        "ward_code",
        "lad_code",
    }
    assert pc["postcode"].str.fullmatch(r"[A-Z0-9]{2,4} [0-9][A-Z]{2}").all()
    assert (pc["lad_code"] == BHAM).all()
    row = pc.set_index("postcode").loc["B1 1AA"]
    assert row["lat"] == pytest.approx(52.47667) and row["lon"] == pytest.approx(-1.90353)
    assert row["easting"] == pytest.approx(406_500, abs=600)
    assert row["northing"] == pytest.approx(286_500, abs=600)
    assert pc["easting"].between(390_000, 425_000).all()


def test_load_postcodes_by_area_keeps_every_row(shared_data):
    pc = load_postcodes(postcode_area="B")
    assert len(pc) == 62_720
    assert int(pc["lat"].isna().sum()) == 30 and int(pc["easting"].isna().sum()) == 30
    assert pc.attrs["source"].startswith("mirror:birmingham/osm/postcodes_B.csv")


def test_birmingham_2021_vintage(bham21):
    l21 = bham21.lsoas
    assert len(l21) == 659 and bham21.lsoa_vintage == 2021
    assert abs(l21["population"].sum() - BHAM_POP) <= 1
    assert l21["population"].sum() == pytest.approx(BHAM_POP, abs=1e-6)
    assert l21["iod_method"].value_counts().to_dict() == {"same_code": 616, "largest_overlap": 43}
    same = l21["iod_method"] == "same_code"
    assert (l21.loc[same, "iod_lsoa11_code"] == l21.loc[same, "lsoa_code"]).all()
    assert l21["iod_lsoa11_code"].str.fullmatch(r"E01\d{6}").all()
    assert l21.loc[~same, "iod_overlap_share"].between(0.5, 1.0).all()
    assert l21["imd_decile"].dtype.kind == "i" and l21["imd_rank"].notna().all()
    assert set(l21["ward_code"]) <= set(bham21.wards["ward_code"])
    assert bham21.lookup["method"].eq("ons_lsoa21_ward_lookup").all()
    assert len(bham21.wards) == 69 and bham21.postcodes is None
    _valid_bng(bham21.lsoas)
    assert any("43 changed LSOAs" in n for n in bham21.notes)


def test_iod2019_is_recorded_in_params(bham, bham21):
    assert bham.params["iod"] == 2019 and bham.params["population"] == "iod2019"
    assert "mid-2015" in bham.params["population_source"]
    assert bham.params["lsoa_dataset"] == "lsoa2011" and bham.params["postcodes"] == "nspl"
    assert bham21.params["lsoa_vintage"] == 2021 and bham21.params["iod_dataset"] == (
        "iod2019_file7"
    )
    assert bham.to_dict()["data"]["population"] == "iod2019"


def test_the_default_is_iod2025_on_2021_lsoas(shared_data):
    area = load_area(BHAM, postcodes=False)
    assert (area.lsoa_vintage, area.iod) == (2021, 2025) and len(area.lsoas) == 659
    assert area.params["iod_dataset"] == "iod2025_file7"
    # published check figure: 282 of 659 in England's most deprived 10%
    assert int((area.lsoas["imd_decile"] == 1).sum()) == 282


@pytest.mark.parametrize(
    ("kwargs", "edition"),
    [
        ({"iod": 2019}, (2011, 2019)),
        ({"lsoa_vintage": 2011}, (2011, 2019)),
        ({"lsoa_vintage": 2021}, (2021, 2025)),
        ({"iod": 2025}, (2021, 2025)),
    ],
)
def test_one_of_vintage_and_edition_implies_the_other(kwargs, edition):
    from cnmap.data.loaders import _editions

    assert _editions(kwargs.get("lsoa_vintage"), kwargs.get("iod")) == edition


# ---------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("code", "exc", "pattern"),
    [
        ("E0800025", ValidationError, r"'E0800025' is malformed: expected an ONS GSS code"),
        ("Birmingham", ValidationError, r"malformed"),
        (8000025, ValidationError, r"must be a string like 'E08000025', not int"),
        ("E05011118", ValidationError, r"an electoral ward code \(E05\)"),
        ("W06000015", ValidationError, r"English local authority district code starting E06"),
    ],
)
def test_bad_lad_codes(code, exc, pattern):
    with pytest.raises(exc, match=pattern):
        load_area(code)


def test_lad_code_is_normalised():
    assert check_lad_code(" e08000025 ") == BHAM


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"lsoa_vintage": 2001}, r"lsoa_vintage=2001; use one of \(2011, 2021\)"),
        ({"iod": 2015}, r"iod=2015; use one of \(2019, 2025\)"),
        (
            {"lsoa_vintage": 2011, "iod": 2025},
            r"iod=2025 is published for 2021 LSOAs; use lsoa_vintage=2021",
        ),
        ({"population": "mid2022"}, r"population='mid2022'; use one of \('auto'"),
        ({"population": "iod2019"}, r"population='iod2019' but the area uses IoD2025"),
        (
            {"lsoa_vintage": 2011, "population": "census2021"},
            r"'census2021' is published for 2021 LSOAs",
        ),
        ({"postcodes": "royal_mail"}, r"postcodes='royal_mail'; use True, False or one of"),
    ],
)
def test_bad_options(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        load_area(BHAM, **kwargs)


def test_district_not_in_the_national_lookup(shared_data):
    # well-formed code, no such district in the England and Wales lookup (296 + 22 LADs)
    with pytest.raises(
        UnknownAreaError,
        match=r"local authority E08999999 is not in "
        r"lsoa2021_ward_lookup \(mirror:england/lookups/lookup_lsoa21_ward24_"
        r"ltla24_ew.csv( \(cached\))?\), which covers 318 district\(s\)",
    ):
        load_area("E08999999")


def test_district_not_in_the_mirror_offline(tmp_path, monkeypatch, shared_data):
    # a mirror with Birmingham's own files only: the error says what to set
    mirror = tmp_path / "bham_only"
    (mirror / "birmingham").mkdir(parents=True)
    src = shared_data / "birmingham" / "lsoa2021_ward2022_lad2022_lookup_birmingham.csv"
    shutil.copy(src, mirror / "birmingham" / src.name)
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        DataFetchError,
        match=r"lsoa2021_ward_lookup for LAD E08000029.*"
        r"has no file covering it.*CNMAP_OFFLINE",
    ):
        load_area("E08000029")


def test_unknown_district_in_a_national_file(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "lookup.csv").write_text(
        "LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD,LAD24NM\n"
        "E01000001,City of London 001A,E05009288,Aldersgate,E09000001,City of London\n"
    )
    (mirror / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "lsoa2021_ward_lookup"\npath = "lookup.csv"\nlad_codes = ["*"]\n'
    )
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        UnknownAreaError,
        match=r"local authority E08999999 is not in "
        r"lsoa2021_ward_lookup \(mirror:lookup.csv\), which covers 1 district"
        r"\(s\): E09000001",
    ):
        load_area("E08999999", lsoa_vintage=2011, iod=2019)


# ---------------------------------------------------------------------------- second district


def test_second_district_from_the_hand_made_mirror(warr, warr_file7):
    assert warr.lad_code == WARR and warr.lad_name == "Warrington"
    assert len(warr.wards) == 3 and len(warr.lsoas) == 127
    expected_pop = int(warr_file7["Total population: mid 2015 (excluding prisoners)"].sum())
    assert int(warr.lsoas["population"].sum()) == expected_pop == 206_466
    assert warr.lsoas["lsoa_code"].tolist() == sorted(warr_file7["LSOA code (2011)"])
    # the real file has all 57 columns: every score is present here
    for c in (
        "education_score",
        "health_score",
        "crime_score",
        "barriers_score",
        "living_environment_score",
        "idaci_score",
        "idaopi_score",
        "pop_16_59",
    ):
        assert warr.lsoas[c].notna().all(), c
    row = warr_file7.set_index("LSOA code (2011)").loc["E01012446"]
    mine = warr.lsoas.set_index("lsoa_code").loc["E01012446"]
    assert (
        mine["imd_rank"]
        == row["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"]
    )
    assert mine["imd_score"] == pytest.approx(row["Index of Multiple Deprivation (IMD) Score"])
    _valid_bng(warr.wards, warr.lsoas, warr.boundary)
    assert warr.boundary.area.iloc[0] == pytest.approx(127 * 200 * 200)


def test_second_district_lookup_is_derived(warr):
    lk = warr.lookup.set_index("lsoa_code")
    assert lk["method"].value_counts().to_dict() == {
        "ons_lsoa21_lookup_same_code": 122,
        "area_overlay_max_share": 5,
    }
    # squares in grid columns 0-4 are in West, 5-8 Centre, 9-12 East
    assert lk.loc["E01012446", "ward_code"] == "E05900001"  # column 0, changed in 2021
    assert lk.loc["E01012451", "ward_code"] == "E05900002"  # column 5
    assert lk.loc["E01012455", "ward_name"] == "Fixture East"  # column 9
    assert warr.lsoas.groupby("ward_code").size().to_dict() == {
        "E05900001": 50,
        "E05900002": 40,
        "E05900003": 37,
    }
    s = warr.sources.set_index("id")
    assert s.loc["lsoa2011_ward_bestfit", "read_from"].startswith("derived by cnmap")
    src = s["read_from"].str.removesuffix(" (cached)")  # the session cache may hold the copy
    assert src["iod2019_file7"] == "mirror:iod2019_file7_sample_warrington.csv"
    assert src["wards"] == "mirror:warrington/wards.geojson"


def test_second_district_postcodes(warr):
    pc = warr.postcodes
    assert pc["postcode"].tolist() == ["WA1 9ZA", "WA1 9ZB", "WA2 9ZD", "WA3 9ZE", "WA1 9ZG"]
    assert (pc["lad_code"] == WARR).all()  # WA8 9ZF (E06000006) left out
    last = pc.iloc[-1]
    assert np.isnan(last["lat"]) and np.isnan(last["lon"]) and np.isnan(last["easting"])
    first = pc.iloc[0]
    assert (first["easting"], first["northing"]) == (360_050.0, 387_050.0)
    assert first["lsoa21_code"] == "E01035901" and first["ward_code"] == "E05900001"


def test_second_district_2021_hand_checked(warr21, warr_file7):
    pop = warr_file7.set_index("LSOA code (2011)")[
        "Total population: mid 2015 (excluding prisoners)"
    ]
    l21 = warr21.lsoas.set_index("lsoa_code")
    assert len(l21) == 127
    assert l21["population"].sum() == pytest.approx(pop.sum(), abs=1e-9)
    # split: two halves of E01012446
    for code in ("E01035901", "E01035902"):
        assert l21.loc[code, "population"] == pytest.approx(pop["E01012446"] / 2, abs=1e-9)
        assert l21.loc[code, "iod_lsoa11_code"] == "E01012446"
    # merge: both populations; equal overlaps -> the smaller 2011 code gives deprivation
    assert l21.loc["E01035903", "population"] == pytest.approx(
        pop["E01012447"] + pop["E01012448"], abs=1e-9
    )
    assert l21.loc["E01035903", "iod_lsoa11_code"] == "E01012447"
    assert l21.loc["E01035903", "iod_overlap_share"] == pytest.approx(0.5)
    # redrawn border: 3/4 of E01012449; the rest of it joins E01012450
    assert l21.loc["E01035904", "population"] == pytest.approx(0.75 * pop["E01012449"], abs=1e-9)
    assert l21.loc["E01035905", "population"] == pytest.approx(
        0.25 * pop["E01012449"] + pop["E01012450"], abs=1e-9
    )
    assert l21.loc["E01035905", "iod_lsoa11_code"] == "E01012450"
    assert l21.loc["E01035905", "iod_overlap_share"] == pytest.approx(0.8)
    f7 = warr_file7.set_index("LSOA code (2011)")
    decile = "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
    assert l21.loc["E01035905", "imd_decile"] == f7.loc["E01012450", decile]
    assert l21.loc["E01035904", "imd_decile"] == f7.loc["E01012449", decile]
    # unchanged LSOAs carry their values over exactly
    assert l21.loc["E01012500", "population"] == pop["E01012500"]
    assert (l21.loc[l21["iod_method"] == "same_code", "iod_overlap_share"] == 1.0).all()


# ---------------------------------------------------------------------------- validation


@pytest.fixture
def edited_mirror(tmp_path, monkeypatch, fixtures_dir, shared_data):
    """A private copy of the Warrington mirror (and a private cache) to break on purpose."""
    mirror = tmp_path / "mirror"
    shutil.copytree(fixtures_dir / "mirror_other_lad", mirror)
    monkeypatch.setenv("CNMAP_DATA_MIRROR", f"{mirror}{os.pathsep}{shared_data}")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    return mirror / "warrington"


def _edit_geojson(path: Path, old: str, new: str) -> None:
    doc = json.loads(path.read_text())
    for f in doc["features"]:
        for k, v in f["properties"].items():
            if v == old:
                f["properties"][k] = new
    path.write_text(json.dumps(doc))


def test_lsoa_without_iod_row(edited_mirror):
    _edit_geojson(edited_mirror / "lsoa2011.geojson", "E01012500", "E01099999")
    with pytest.raises(
        ValidationError,
        match=r"1 LSOA\(s\) of the 2011 LSOA boundaries have no "
        r"IoD row in mirror:iod2019_file7_sample_warrington.csv: \['E01099999'\]",
    ):
        load_area(WARR, lsoa_vintage=2011, iod=2019, postcodes=False)


def test_iod_row_without_lsoa(edited_mirror):
    path = edited_mirror / "lsoa2011.geojson"
    doc = json.loads(path.read_text())
    doc["features"] = [f for f in doc["features"] if f["properties"]["LSOA11CD"] != "E01012500"]
    path.write_text(json.dumps(doc))
    with pytest.raises(
        ValidationError,
        match=r"1 IoD row\(s\) of E06000007 .* have no LSOA in "
        r"the 2011 LSOA boundaries: \['E01012500'\]",
    ):
        load_area(WARR, lsoa_vintage=2011, iod=2019, postcodes=False)


def test_lookup_ward_missing_from_boundaries(edited_mirror):
    path = edited_mirror / "lsoa21_wd24_lad24_lookup.csv"
    path.write_text(path.read_text().replace("E05900003", "E05900009"))
    with pytest.raises(
        ValidationError,
        match=r"ward\(s\) \['E05900009'\] absent from the ward "
        r"boundaries; .*different ward vintages",
    ):
        load_area(WARR, lsoa_vintage=2021, iod=2019, postcodes=False)


def test_lookup_with_two_wards_for_one_lsoa(edited_mirror):
    path = edited_mirror / "lsoa21_wd24_lad24_lookup.csv"
    lines = path.read_text().splitlines()
    dup = lines[1].replace("E05900002,Fixture Centre", "E05900001,Fixture West")
    path.write_text("\n".join([*lines, dup]) + "\n")
    with pytest.raises(ValidationError, match=r"duplicate lsoa_code values \['E01012451'\]"):
        load_area(WARR, lsoa_vintage=2011, iod=2019, postcodes=False)


def test_lsoa2021_missing_from_lookup(edited_mirror):
    path = edited_mirror / "lsoa21_wd24_lad24_lookup.csv"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("E01035905")]
    path.write_text("\n".join(lines) + "\n")
    # the 2021 boundaries are selected through the lookup, so the polygon is not picked up;
    # the changed 2011 LSOA E01012450 then has nowhere to go
    with pytest.raises(ValidationError, match=r"E01012450"):
        load_area(WARR, lsoa_vintage=2021, iod=2019, postcodes=False)


def test_geometry_repair_is_recorded(edited_mirror):
    path = edited_mirror / "lsoa2011.geojson"
    doc = json.loads(path.read_text())
    f = next(f for f in doc["features"] if f["properties"]["LSOA11CD"] == "E01012500")
    (x0, y0), (x1, y1) = f["geometry"]["coordinates"][0][0], f["geometry"]["coordinates"][0][2]
    # a bow-tie over the same square: self-intersecting, so invalid
    f["geometry"]["coordinates"] = [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]
    path.write_text(json.dumps(doc))
    area = load_area(WARR, lsoa_vintage=2011, iod=2019, postcodes=False)
    assert area.lsoas.geometry.is_valid.all()
    assert any(
        re.search(r"1 invalid geometries repaired with make_valid \(E01012500\)", n)
        for n in area.notes
    )


# ---------------------------------------------------------------------------- postcode errors


def _postcode_mirror(tmp_path, monkeypatch, csv: str) -> None:
    mirror = tmp_path / "pcmirror"
    mirror.mkdir()
    (mirror / "pc.csv").write_text(csv)
    (mirror / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "postcodes"\npath = "pc.csv"\nlad_codes = ["*"]\n'
        'postcode_areas = ["*"]\n'
    )
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))


def test_postcodes_without_lad_or_lsoa_columns(tmp_path, monkeypatch):
    _postcode_mirror(tmp_path, monkeypatch, "pcds,lat,long\nB1 1AA,52.47667,-1.90353\n")
    with pytest.raises(ValidationError, match=r"neither a LAD column nor 2021 LSOA codes"):
        load_postcodes(WARR)
    every = load_postcodes()  # no district asked: every row, normalised
    assert every.columns.tolist() == ["postcode", "lat", "lon", "easting", "northing"]
    assert every["easting"].iloc[0] == pytest.approx(406_500, abs=600)


def test_postcodes_of_another_district_only(tmp_path, monkeypatch):
    _postcode_mirror(
        tmp_path, monkeypatch, "pcds,lat,long,laua\nB1 1AA,52.47667,-1.90353,E08000025\n"
    )
    with pytest.raises(UnknownAreaError, match=r"no postcodes of E06000007 in mirror:pc.csv"):
        load_postcodes(WARR)


def test_postcodes_file_without_coordinates(tmp_path, monkeypatch):
    # the structural check already refuses a postcode file without its key columns
    _postcode_mirror(tmp_path, monkeypatch, "pcds,laua\nB1 1AA,E08000025\n")
    with pytest.raises(DataFetchError, match=r"lacks the key column\(s\) \['lat', 'lon'\]"):
        load_postcodes(BHAM)

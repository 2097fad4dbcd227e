"""The bad-input corpus: each organisation file in tests/fixtures/orgs has an exact expected
outcome (tests/fixtures/orgs/expectations.json), asserted here; plus a 100,000-row file built
at test time from real postcodes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cnmap.errors as errors
from cnmap.io import REASONS, read_organisations

ORGS = Path(__file__).resolve().parent / "fixtures" / "orgs"
sys.path.insert(0, str(ORGS))

import make_corpus  # noqa: E402
import orgs_area  # noqa: E402

EXPECT = json.loads((ORGS / "expectations.json").read_text())["cases"]


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("orgs_binary")
    make_corpus.write_binary(folder)
    return folder


def _path(name: str, binary_dir: Path) -> Path:
    return binary_dir / name if name in make_corpus.BINARY_FILES else ORGS / name


def test_corpus_is_large_enough_and_committed_files_are_current(tmp_path, binary_dir):
    files = {c["file"] for c in EXPECT.values()}
    assert len(files) >= 20
    written = make_corpus.write_text(tmp_path)
    for p in written:
        assert (ORGS / p.name).read_bytes() == p.read_bytes(), (
            f"{p.name} differs from make_corpus.py"
        )
    assert files <= {p.name for p in written} | set(make_corpus.BINARY_FILES)
    assert {p.name for p in binary_dir.iterdir()} == set(make_corpus.BINARY_FILES)


@pytest.mark.parametrize("case", sorted(EXPECT))
@pytest.mark.slow
def test_corpus_case(case, shared_data, binary_dir):
    spec = EXPECT[case]
    path = _path(spec["file"], binary_dir)
    kwargs = dict(spec.get("kwargs", {}))
    if spec.get("area") == "birmingham":
        kwargs["area"] = orgs_area.birmingham_area(shared_data)
    kwargs["postcodes"] = orgs_area.postcode_lookup(shared_data)
    if "error" in spec:
        with pytest.raises(getattr(errors, spec["error"]), match=spec["match"]) as info:
            read_organisations(path, **kwargs)
        # one line that names the file
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
        return
    res = read_organisations(path, **kwargs)
    assert res.n_matched == spec["matched"], res.rejected[["source_row", "reason", "reason_text"]]
    assert len(res.rejected) == spec["rejected"]
    # rows in = rows placed + rows rejected, and every data row of the file is counted
    assert res.n_input == spec["rows"] == res.n_matched + res.n_rejected
    for note in res.notes:  # notes are shown on the CLI: one line each, naming the file
        assert note.startswith(str(path)) and "\n" not in note, note
    assert res.rejected["reason"].value_counts().to_dict() == spec["reasons"]
    if "coord_source" in spec:
        assert res.organisations["coord_source"].value_counts().to_dict() == spec["coord_source"]
    # invariants: nothing lost, every row once (a row with several sites gives one row per
    # site, all with its source_row), reasons known, messages name the row
    assert res.n_input == res.n_matched + len(res.rejected)
    placed = res.organisations["source_row"].unique().tolist()
    rows = sorted(placed + res.rejected["source_row"].tolist())
    assert rows == list(range(1, res.n_input + 1))
    assert set(res.rejected["reason"]) <= set(REASONS)
    for row, text in zip(res.rejected["source_row"], res.rejected["reason_text"], strict=True):
        assert text.startswith(f"row {row}")
    assert res.organisations.crs == "EPSG:27700"
    assert res.match_rate == pytest.approx(spec["matched"] / res.n_input)
    summary = res.summary()
    assert int(summary.sum()) == res.n_input and summary["matched"] == spec["matched"]


# ----------------------------------------------------------------- details of some files


def _lookup(shared_data):
    return orgs_area.postcode_lookup(shared_data)


def test_latin1_decoded_and_noted(shared_data):
    res = read_organisations(ORGS / "06_latin1.csv", postcodes=_lookup(shared_data))
    assert res.organisations["name"].tolist() == [
        "Café Rouge Community Kitchen",
        "Résumé Workshop Hub",
        "Naïve Art Club",
    ]
    assert res.organisations["services_list"].iloc[0] == ("hot meals", "£1 lunches")
    assert res.params["encoding"] == "cp1252"
    assert any("not UTF-8" in n for n in res.notes)


def test_bom_stripped_from_header(shared_data):
    res = read_organisations(ORGS / "07_utf8_bom.csv", postcodes=_lookup(shared_data))
    assert res.params["encoding"] == "utf-8-sig"
    assert res.params["columns"]["name"] == "Name"
    assert res.params["columns"]["postcode"] == "Post Code"
    assert res.organisations["postcode"].tolist() == ["B12 8DN", "B31 4BU"]
    assert res.organisations["name"].tolist()[1] == "St Anne’s Hall"


def test_excel_title_rows_and_sheet_rows(shared_data, binary_dir):
    res = read_organisations(binary_dir / "08_title_rows.xlsx", postcodes=_lookup(shared_data))
    assert res.params["header_row"] == 4
    assert res.organisations["name"].tolist() == [
        "Acocks Green Library",
        "Sparkbrook Advice Centre",
        "Jewellery Quarter Club",
    ]
    assert res.organisations["services_list"].iloc[0] == ("library", "warm space")
    rej = res.rejected.set_index("source_row")
    assert rej.loc[4, "reason"] == "unknown_postcode"
    assert rej.loc[4, "reason_text"] == (
        "row 4 (sheet row 8): postcode 'B15 9QQ' not found in the ONS postcode lookup; "
        "check the spelling or give lat/lon"
    )
    assert rej.loc[5, "reason"] == "malformed_postcode"
    assert "sheet row 9" in rej.loc[5, "reason_text"]


def test_excel_other_sheet(shared_data, binary_dir):
    with pytest.raises(
        errors.ValidationError, match=r"\[sheet Notes\]: has a header but no data rows"
    ):
        read_organisations(
            binary_dir / "08_title_rows.xlsx", sheet="Notes", postcodes=_lookup(shared_data)
        )
    with pytest.raises(errors.ValidationError, match="sheet="):
        read_organisations(binary_dir / "08_title_rows.xlsx", sheet="Missing")


def test_swapped_message(shared_data):
    res = read_organisations(ORGS / "09_swapped_latlon.csv")
    rej = res.rejected.set_index("source_row")
    assert rej.loc[2, "reason_text"].startswith(
        "row 2: lat=-1.91017, lon=52.47327: latitude and longitude look swapped"
    )
    assert res.params["postcode_lookup"] is None  # never needed, never loaded


def test_bng_in_latlon_suggests_columns():
    res = read_organisations(ORGS / "10_bng_in_latlon.csv")
    text = res.rejected.set_index("source_row").loc[1, "reason_text"]
    assert "British National Grid" in text
    assert "easting_col='longitude', northing_col='latitude'" in text
    # following the advice locates them
    fixed = read_organisations(
        ORGS / "10_bng_in_latlon.csv",
        coords="bng",
        easting_col="longitude",
        northing_col="latitude",
    )
    assert fixed.n_matched == 2 and fixed.rejected["reason"].tolist() == [
        "coordinates_out_of_range"
    ]


def test_nan_coordinates_details(shared_data):
    res = read_organisations(ORGS / "11_nan_coordinates.csv", postcodes=_lookup(shared_data))
    orgs = res.organisations.set_index("source_row")
    assert orgs.loc[6, "coord_source"] == "postcode"
    assert orgs.loc[6, "coord_note"] == "lon is blank but lat is given; give both, or a postcode"
    assert pd.isna(orgs.loc[1, "coord_note"])
    rej = res.rejected.set_index("source_row")
    assert (
        rej.loc[4, "reason_text"]
        == "row 4: lon is blank but lat is given; give both, or a postcode"
    )
    assert (
        rej.loc[3, "reason_text"]
        == "row 3: no location: lat, lon, postcode blank; add lat/lon or a postcode"
    )


def test_unknown_and_no_coordinate_messages(shared_data):
    res = read_organisations(ORGS / "13_unknown_postcodes.csv", postcodes=_lookup(shared_data))
    rej = res.rejected.set_index("source_row")
    assert rej.loc[3, "reason_text"] == (
        "row 3: postcode 'b15 9qq' not found in the ONS postcode lookup; check the spelling or give lat/lon"
    )
    assert rej.loc[4, "reason"] == "postcode_without_coordinates"
    orgs = res.organisations.set_index("source_row")
    assert orgs.loc[5, "coord_source"] == "address_postcode"
    assert orgs.loc[5, "postcode"] == "B2 9ZZ"  # the postcode column as given (normalised)
    assert "not found in the ONS postcode lookup" in orgs.loc[5, "coord_note"]


def test_duplicates_point_to_first_row():
    res = read_organisations(ORGS / "14_duplicates.csv")
    rej = res.rejected.set_index("source_row")
    assert rej["duplicate_of"].to_dict() == {2: 1, 3: 1, 7: 6}
    assert rej.loc[3, "reason_text"].startswith(
        "row 3: duplicate of row 1: same name 'Hay Mills Food-Bank' 28 m away"
    )
    assert res.organisations["source_row"].tolist() == [1, 4, 5, 6]


@pytest.mark.slow
def test_outside_area_distance_and_keep(shared_data):
    area = orgs_area.birmingham_area(shared_data)
    lk = _lookup(shared_data)
    res = read_organisations(ORGS / "15_outside_area.csv", area=area, postcodes=lk)
    assert res.organisations["in_area"].tolist() == [True, True]
    assert res.organisations["ward_name"].tolist() == ["Ladywood", "Sutton Walmley & Minworth"]
    rej = res.rejected.set_index("source_row")
    dist = (
        rej["reason_text"].str.extract(r"is ([\d,]+) m outside")[0].str.replace(",", "").astype(int)
    )
    assert (dist > 0).all()
    # keeping points up to the farthest distance keeps them all, flagged in_area False
    wide = read_organisations(
        ORGS / "15_outside_area.csv", area=area, postcodes=lk, keep_outside_m=float(dist.max()) + 1
    )
    assert wide.n_matched == 5
    assert wide.organisations["in_area"].tolist() == [True, False, False, False, True]
    assert wide.params["keep_outside_m"] == float(dist.max()) + 1
    # one metre short of the farthest: that one is rejected again
    near = read_organisations(
        ORGS / "15_outside_area.csv", area=area, postcodes=lk, keep_outside_m=float(dist.max()) - 1
    )
    assert near.n_matched == 4


def test_mixed_spellings_normalised(shared_data):
    res = read_organisations(
        ORGS / "16_mixed_postcode_spellings.csv", postcodes=_lookup(shared_data)
    )
    assert res.organisations["postcode"].tolist() == [
        "B1 1AA",
        "B1 1AA",
        "B36 8QS",
        "B36 8QS",
        "B12 8DN",
        "B3 1HA",
    ]
    assert res.params["columns"]["postcode"] == "Postal Code"


def test_address_only_details(shared_data):
    res = read_organisations(ORGS / "17_address_only.csv", postcodes=_lookup(shared_data))
    assert res.organisations["postcode"].tolist() == ["B36 8QS", "B36 8QS", "B12 8DN"]
    rej = res.rejected.set_index("source_row")
    assert rej.loc[2, "reason_text"] == (
        "row 2: no coordinates and no postcode found in full_address "
        "'Jewellery Quarter (Contact 07765 706066)'; add a postcode or lat/lon"
    )
    assert rej.loc[6, "reason_text"] == (
        "row 6: postcode 'B2 9ZZ' (found in full_address) not found in the ONS postcode lookup; "
        "check the spelling or give lat/lon"
    )


def test_services_and_types(shared_data):
    res = read_organisations(ORGS / "18_semicolon_services.csv", postcodes=_lookup(shared_data))
    o = res.organisations
    assert o["services_list"].tolist() == [
        ("food", "advice", "debt advice"),
        ("food and drink", "warm space", "computer access"),
        ("advice, guidance", "benefits"),
        (),
    ]
    assert o["services"].tolist()[:3] == [
        "food; advice; debt advice",
        "food and drink; warm space; computer access",
        "advice, guidance; benefits",
    ]
    assert pd.isna(o["services"].iloc[3])
    assert o["type"].tolist()[:2] == ["community_centre", "food_bank"]
    assert pd.isna(o["type"].iloc[2]) and o["type"].iloc[3] == "faith"


def test_geojson_rejected_keeps_geometry_text(shared_data):
    res = read_organisations(ORGS / "19_points.geojson", postcodes=_lookup(shared_data))
    rej = res.rejected.set_index("source_row")
    assert rej.loc[4, "geometry_wkt"] == "POINT (52.47327 -1.91017)"
    assert pd.isna(rej.loc[5, "geometry_wkt"])
    o = res.organisations.set_index("source_row")
    assert o.loc[1, "lat"] == 52.48493 and o.loc[1, "lon"] == -1.90229


def test_gpkg_layer_and_types(binary_dir):
    res = read_organisations(binary_dir / "20_generated.gpkg", sheet="organisations")
    assert res.organisations["type"].tolist() == ["library", "faith"]
    o = res.organisations
    assert o.geometry.x.tolist() == [406000.0, 410000.0] and o.geometry.y.tolist() == [
        286000.0,
        290000.0,
    ]
    assert res.rejected.set_index("source_row").loc[4, "duplicate_of"] == 1


def test_empty_rows_numbered_as_lines(shared_data):
    res = read_organisations(ORGS / "22_empty_rows.csv", postcodes=_lookup(shared_data))
    assert res.rejected["source_row"].tolist() == [2, 4, 6]
    assert res.organisations["source_row"].tolist() == [1, 3, 5]


def test_decimal_commas():
    res = read_organisations(ORGS / "23_semicolon_delimited.csv")
    assert res.organisations["lat"].tolist() == [52.48493, 52.45495]


def test_out_of_range_messages():
    res = read_organisations(ORGS / "24_out_of_range.csv")
    rej = res.rejected.set_index("source_row")
    assert rej.loc[4, "reason_text"] == (
        "row 4: lat='abc', lon='-1.9' are not numbers in decimal degrees; fix the values or give a postcode"
    )
    assert "outside Great Britain" in rej.loc[1, "reason_text"]


def test_x_y_read_as_metres():
    res = read_organisations(ORGS / "26_x_y_metres.csv")
    assert res.params["columns"]["easting"] == "X"
    assert any("read as easting/northing" in n for n in res.notes)
    assert res.organisations["easting"].tolist() == [406649.0, 409000.0]


# ----------------------------------------------------------------- 100,000 rows


@pytest.fixture(scope="module")
def big_file(tmp_path_factory, shared_data) -> tuple[Path, dict[str, int]]:
    """100,000 rows from real postcodes in mixed spellings, with known bad rows."""
    lk = orgs_area.postcode_lookup(shared_data)
    rng = np.random.default_rng(20240301)
    good = lk.loc[lk["lat"].notna(), "postcode"].to_numpy()
    n = 100_000
    pcs = rng.choice(good, size=n).astype(object)
    style = rng.integers(0, 4, size=n)
    pcs = np.where(style == 1, np.char.lower(pcs.astype(str)), pcs)
    pcs = np.where(style == 2, np.char.replace(pcs.astype(str), " ", ""), pcs)
    pcs = np.where(style == 3, np.char.add("  ", pcs.astype(str)), pcs).astype(object)
    idx = rng.permutation(n)
    bad = {
        "malformed_postcode": idx[:500],
        "unknown_postcode": idx[500:800],
        "postcode_without_coordinates": idx[800:850],
        "missing_coordinates": idx[850:1000],
    }
    pcs[bad["malformed_postcode"]] = "B1"
    pcs[bad["unknown_postcode"]] = "B99 9ZZ"
    pcs[bad["postcode_without_coordinates"]] = "B13 3AH"
    pcs[bad["missing_coordinates"]] = ""
    frame = pd.DataFrame(
        {
            "id": [f"ORG{i:06d}" for i in range(n)],
            "name": [f"Organisation {i}" for i in range(n)],
            "postcode": pcs,
            "services": np.where(style == 0, "food; advice", "warm space"),
        }
    )
    path = tmp_path_factory.mktemp("big") / "orgs_100k.csv"
    frame.to_csv(path, index=False)
    return path, {k: len(v) for k, v in bad.items()}


@pytest.mark.slow
def test_100k_rows(big_file, shared_data):
    path, bad = big_file
    res = read_organisations(path, postcodes=orgs_area.postcode_lookup(shared_data))
    assert res.n_input == 100_000
    assert res.rejected["reason"].value_counts().to_dict() == bad
    assert res.n_matched == 100_000 - 1000
    assert res.organisations["org_id"].iloc[0].startswith("ORG")
    assert res.organisations["postcode"].str.fullmatch(r"[A-Z0-9]{2,4} [0-9][A-Z]{2}").all()
    rows = np.sort(
        np.r_[res.organisations["source_row"].to_numpy(), res.rejected["source_row"].to_numpy()]
    )
    assert (rows == np.arange(1, 100_001)).all()

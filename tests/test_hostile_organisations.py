"""Hostile organisation files: nothing altered or lost silently, no raw traceback.

Each case ends as the right value (with a note when something was changed), a rejected row
with its reason, or a ValidationError of one line naming the file, row/column and the fix.
The files are the hostile members of the bad-input corpus (tests/fixtures/orgs, numbers 30
onwards; the binary ones are written at test time by make_corpus.write_binary).
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPoint, Point

from cnmap.errors import ValidationError
from cnmap.io import REASONS, read_organisations

ORGS = Path(__file__).resolve().parent / "fixtures" / "orgs"
sys.path.insert(0, str(ORGS))

import make_corpus  # noqa: E402
import orgs_area  # noqa: E402

MISSING_SPELLINGS = ["NA", "None", "null", "N/A", "nan", "#N/A", "NULL", "n/a"]


@pytest.fixture(scope="module")
def lookup(shared_data) -> pd.DataFrame:
    return orgs_area.postcode_lookup(shared_data)


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile_binary")
    make_corpus.write_binary(folder)
    return folder


@pytest.fixture
def small_lookup() -> pd.DataFrame:
    # real rows of the ONS postcode lookup (NSPL May 2025, mirror osm/postcodes_B.csv)
    return pd.DataFrame(
        {
            "postcode": ["B12 8DN", "B3 1HA", "B27 7BB"],
            "lat": [52.45942, 52.48493, 52.45495],
            "lon": [-1.87439, -1.90229, -1.83386],
        }
    )


def _one_note(res, *words: str) -> str:
    hits = [n for n in res.notes if all(w in n for w in words)]
    assert len(hits) == 1, res.notes
    assert hits[0].startswith(res.source.split(" [sheet ")[0]) and "\n" not in hits[0]
    return hits[0]


# ------------------------------------------------------------ names that look missing


@pytest.mark.parametrize("spelling", MISSING_SPELLINGS)
def test_missing_value_spelling_stays_text(tmp_path, small_lookup, spelling):
    path = tmp_path / "one.csv"
    path.write_text(f"name,postcode,type,notes\n{spelling},B12 8DN,{spelling},{spelling}\n")
    res = read_organisations(path, postcodes=small_lookup)
    o = res.organisations
    assert o["name"].tolist() == [spelling]
    assert o["notes"].tolist() == [spelling]
    assert o["type"].tolist() == [spelling.lower()]


def test_only_empty_cells_are_missing(lookup):
    res = read_organisations(ORGS / "30_na_names.csv", postcodes=lookup)
    o = res.organisations
    assert o["name"].tolist()[:8] == MISSING_SPELLINGS
    assert pd.isna(o["name"].iloc[8])  # the one genuinely empty name
    assert o["notes"].tolist()[:4] == ["N/A", "nan", "NULL", "-"]
    assert pd.isna(o["notes"].iloc[4]) and o["notes"].iloc[5] == "none"
    assert o["type"].tolist()[:5] == ["none", "null", "#n/a", "n/a", "na"]


def test_missing_spellings_stay_text_in_excel(lookup, binary_dir):
    res = read_organisations(binary_dir / "56_na_names.xlsx", postcodes=lookup)
    assert res.organisations["name"].tolist() == ["NA", "None", "#N/A", "null", "n/a"]
    assert res.organisations["type"].tolist() == ["none", "#n/a", "null", "n/a", "nan"]


def test_missing_spellings_stay_text_in_geojson():
    res = read_organisations(ORGS / "46_na_names.geojson")
    assert res.organisations["name"].tolist()[:2] == ["NA", "null"]
    assert pd.isna(res.organisations["name"].iloc[2])  # JSON null is missing
    assert res.organisations["type"].tolist() == ["none", "#n/a", "n/a"]


def test_missing_spellings_in_coordinates_mean_no_value(small_lookup):
    df = pd.DataFrame(
        {
            "name": ["A", "B"],
            "lat": ["N/A", "52.48493"],
            "lon": ["#N/A", "-1.90229"],
            "postcode": ["B12 8DN", None],
        }
    )
    res = read_organisations(df, postcodes=small_lookup)
    assert res.organisations["coord_source"].tolist() == ["postcode", "latlon"]
    assert res.n_rejected == 0


# ------------------------------------------------------------ delimiters


def test_trailing_delimiter_on_every_row(lookup):
    res = read_organisations(ORGS / "31_trailing_delimiter.csv", postcodes=lookup)
    o = res.organisations
    assert o["name"].tolist() == ["Trailing One", "Trailing Two", "Trailing Three"]
    assert o["postcode"].tolist() == ["B12 8DN", "B3 1HA", "B27 7BB"]
    assert o["type"].tolist()[:2] == ["youth", "faith"]
    _one_note(res, "every row ends with an extra delimiter ','", "ignored")


def test_trailing_delimiter_on_some_rows(lookup):
    res = read_organisations(ORGS / "32_trailing_some_rows.csv", postcodes=lookup)
    assert res.organisations["name"].tolist() == ["Some One", "Some Two", "Some Three", "Some Four"]
    _one_note(res, "rows 2, 4 end with an extra delimiter")


def test_unquoted_comma_rejects_that_row_only(lookup):
    res = read_organisations(ORGS / "33_unquoted_comma.csv", postcodes=lookup)
    o = res.organisations
    assert o["name"].tolist() == ["Hall Green Hub", "Quoted, Properly Ltd", "Sparkhill Pantry"]
    assert o["type"].tolist() == ["community", "advice", "food_bank"]  # nothing shifted
    rej = res.rejected.set_index("source_row")
    assert rej.loc[2, "reason"] == "extra_fields"
    assert rej.loc[2, "reason_text"] == (
        "row 2: 4 fields but the header has 3 (an unquoted delimiter ',' inside a value?): "
        "'Smith, Jones and Partners Advice,B12 8DN,advice'; put that value in double quotes, "
        "or remove the extra ','"
    )
    assert "extra_fields" in REASONS


def test_header_short_of_a_column_is_an_error_not_a_shift(lookup):
    with pytest.raises(ValidationError, match=r"34_header_missing_column\.csv: 3 of 3 rows"):
        read_organisations(ORGS / "34_header_missing_column.csv", postcodes=lookup)


# ------------------------------------------------------------ encodings


def test_one_stray_byte_does_not_garble_the_file(lookup):
    res = read_organisations(ORGS / "35_stray_byte.csv", postcodes=lookup)
    assert res.organisations["name"].tolist() == [
        "Café Crème Hub",
        "Naïve Art Club",
        "Résumé Workshop",
    ]
    assert res.params["encoding"] == "utf-8"
    note = _one_note(res, "line 3 (row 2, 'Naïve Art Club")
    assert "read as Windows-1252" in note


def test_stray_byte_after_a_bom(lookup):
    res = read_organisations(ORGS / "36_stray_byte_bom.csv", postcodes=lookup)
    assert res.organisations["name"].tolist() == ["Crèche Corner", "Café Stray"]
    assert res.params["encoding"] == "utf-8-sig"
    _one_note(res, "line 3 (row 2, 'Café Stray")


def test_utf16_without_bom_names_the_encoding_to_pass(lookup):
    with pytest.raises(ValidationError, match="pass encoding='utf-16-le'"):
        read_organisations(ORGS / "37_utf16_no_bom.csv", postcodes=lookup)
    res = read_organisations(ORGS / "37_utf16_no_bom.csv", postcodes=lookup, encoding="utf-16-le")
    assert res.organisations["name"].tolist() == ["Sixteen Bit Hall", "Second Sixteen"]


def test_wrong_encoding_given_names_the_line(lookup):
    with pytest.raises(
        ValidationError, match=r"byte 0xef on line 3 is not utf-8; leave encoding=None"
    ):
        read_organisations(ORGS / "35_stray_byte.csv", postcodes=lookup, encoding="utf-8")
    with pytest.raises(ValidationError, match="encoding='klingon' is not a known encoding"):
        read_organisations(ORGS / "35_stray_byte.csv", postcodes=lookup, encoding="klingon")


# ------------------------------------------------------------ Excel


def test_other_sheets_are_named_in_a_note(lookup, binary_dir):
    res = read_organisations(binary_dir / "08_title_rows.xlsx", postcodes=lookup)
    _one_note(res, "read sheet 'Organisations' only", "'Notes'", "sheet=")
    named = read_organisations(
        binary_dir / "08_title_rows.xlsx", postcodes=lookup, sheet="Organisations"
    )
    assert not any("only" in n for n in named.notes)


def test_hidden_first_sheet_does_not_win(lookup, binary_dir):
    res = read_organisations(binary_dir / "50_hidden_first_sheet.xlsx", postcodes=lookup)
    assert res.organisations["name"].tolist() == ["Visible One", "Visible Two"]
    assert res.source.endswith("[sheet Current]")
    _one_note(res, "'Old list' (hidden)")


def test_data_on_the_second_sheet_is_read_and_said(lookup, binary_dir):
    res = read_organisations(binary_dir / "51_data_on_second_sheet.xlsx", postcodes=lookup)
    assert res.organisations["name"].tolist() == ["Second Sheet One", "Second Sheet Two"]
    _one_note(res, "the first sheet 'Cover' has no table", "read sheet 'Data'")


def test_formulas_without_values_are_refused_naming_the_cell(binary_dir):
    with pytest.raises(ValidationError, match=r"cell B2 holds a formula \(=52\.48493\)"):
        read_organisations(binary_dir / "53_uncached_formulas.xlsx")


def test_formulas_with_saved_values_are_read(binary_dir):
    res = read_organisations(binary_dir / "54_cached_formulas.xlsx")
    assert res.organisations["lat"].tolist() == [52.48493, 52.45942]


def test_merged_cells_are_filled_and_said(lookup, binary_dir):
    res = read_organisations(binary_dir / "55_merged_cells.xlsx", postcodes=lookup)
    assert res.organisations["type"].tolist() == ["food_bank"] * 3 + ["advice"]
    _one_note(res, "merged cells B2:B4 ('food bank')")


@pytest.mark.parametrize(
    "name, match",
    [
        ("38_csv_saved_as_xlsx.xlsx", "rename it to .csv"),
        ("39_xls_saved_as_xlsx.xlsx", "save it as .xlsx"),
        ("57_truncated.xlsx", "damaged or incomplete"),
        ("58_workbook_saved_as.csv", "rename it to .xlsx"),
        ("47_nul_bytes.csv", "not CSV text"),
    ],
)
def test_file_of_the_wrong_kind_is_one_clear_error(binary_dir, name, match):
    path = binary_dir / name if name in make_corpus.BINARY_FILES else ORGS / name
    with pytest.raises(ValidationError) as info:
        read_organisations(path)
    msg = str(info.value)
    assert match in msg and msg.startswith(str(path)) and "\n" not in msg


# ------------------------------------------------------------ sizes and numbers


def test_million_character_name_is_refused_naming_row_and_column(binary_dir):
    with pytest.raises(ValidationError, match=r"row 2, column 'name' holds 1,000,000 characters"):
        read_organisations(binary_dir / "59_long_name.csv")


def test_long_cell_beyond_the_first_lines(tmp_path):
    path = tmp_path / "long_notes.csv"
    rows = "".join(f"Group {i},B12 8DN,ok\n" for i in range(60))
    path.write_text("name,postcode,notes\n" + rows + "Last,B3 1HA," + "y" * 40_000 + "\n")
    with pytest.raises(ValidationError, match="row 61, column 'notes' holds 40,000 characters"):
        read_organisations(path)


def test_million_character_column_name_is_shown_short(tmp_path):
    path = tmp_path / "long_header.csv"
    path.write_text("x" * 1_000_000 + ",postcode\nA,B12 8DN\n")
    with pytest.raises(ValidationError, match="no name column found") as info:
        read_organisations(path)
    assert len(str(info.value)) < 600 and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name, where",
    [("40_header_below_40.csv", "line 45"), ("60_header_below_40.xlsx", "sheet row 46")],
)
def test_header_far_down_is_named(binary_dir, name, where):
    path = binary_dir / name if name in make_corpus.BINARY_FILES else ORGS / name
    with pytest.raises(ValidationError, match=f"the header row \\(name, postcode\\) is on {where}"):
        read_organisations(path)


def test_thousands_separators_in_eastings(tmp_path):
    res = read_organisations(ORGS / "41_thousands_quoted.csv")
    o = res.organisations
    assert o["easting"].tolist() == [406649.0, 409000.0, 410000.0]
    assert o["northing"].tolist() == [286531.0, 292000.0, 290000.0]
    _one_note(res, "2 row(s) write Easting/Northing with thousands separators", "'406,649'")
    semi = read_organisations(ORGS / "42_thousands_semicolon.csv")
    assert semi.organisations["easting"].tolist() == [406649.0, 409000.5]
    assert semi.organisations["northing"].tolist() == [286531.0, 292000.25]


def test_300_digit_numbers_are_shown_short():
    res = read_organisations(ORGS / "43_huge_numbers.csv")
    rej = res.rejected.set_index("source_row")
    assert rej.loc[1, "reason_text"].startswith(
        "row 1: lat=1e+299, lon=-1.9: outside Great Britain"
    )
    assert all(len(t) < 200 for t in res.rejected["reason_text"])
    assert res.organisations["lat"].tolist() == [52.48493]


def test_huge_easting_and_long_postcode_are_shown_short(small_lookup):
    df = pd.DataFrame(
        {
            "name": ["Far", "Odd"],
            "easting": [1e300, np.nan],
            "northing": [286000.0, np.nan],
            "postcode": [None, "B" * 500],
        }
    )
    res = read_organisations(df, postcodes=small_lookup)
    texts = res.rejected.set_index("source_row")["reason_text"]
    assert texts.loc[1].startswith("row 1: easting=1e+300, northing=286000: outside")
    assert len(texts.loc[2]) < 200 and "…" in texts.loc[2]


# ------------------------------------------------------------ output column names


def test_input_columns_named_like_output_columns_are_renamed(lookup):
    res = read_organisations(ORGS / "44_output_named_columns.csv", postcodes=lookup)
    o = res.organisations.iloc[0]
    assert o["reason_input"] == "their reason input"  # its own name: nothing clashes
    assert o["reason_input2"] == "their reason"
    assert o["reason_text_input"] == "their text" and o["source_row_input"] == 7
    assert o["source_row"] == 1 and pd.isna(o["lsoa_code"]) and o["lsoa_code_input"] == "E01000001"
    assert o["geometry_input"] == "POINT (1 2)" and o["geometry"].geom_type == "Point"
    assert o["dataset_input"] == "their dataset" and o["site_input"] == "hall"
    rej = res.rejected.iloc[0]
    assert rej["reason"] == "malformed_postcode" and rej["reason_input2"] == "bad reason"
    assert rej["reason_text"].startswith("row 2: postcode 'B1'")
    note = _one_note(res, "'reason' -> 'reason_input2'", "'geometry' -> 'geometry_input'")
    assert "'reason_input' ->" not in note


def test_dataframe_reason_column_is_kept_apart(small_lookup):
    df = pd.DataFrame({"name": ["A", "B"], "postcode": ["B12 8DN", "ZZ"], "reason": ["x", "y"]})
    res = read_organisations(df, postcodes=small_lookup)
    assert res.rejected["reason"].tolist() == ["malformed_postcode"]
    assert res.rejected["reason_input"].tolist() == ["y"]
    assert res.organisations["reason_input"].tolist() == ["x"]


# ------------------------------------------------------------ several sites


def test_multipoint_gives_one_row_per_site():
    res = read_organisations(ORGS / "45_multipoint.geojson")
    o = res.organisations
    assert o["name"].tolist() == [
        "Two Sites Trust",
        "Two Sites Trust",
        "Single Hall",
        "Repeated Point Club",
        "Half Placed",
    ]
    assert o["site"].tolist() == [1, 2, 1, 1, 1]
    assert o["source_row"].tolist() == [1, 1, 2, 3, 5]
    assert o["org_id"].tolist() == ["T1#1", "T1#2", "S2", "R3", "H5#1"]
    assert o["lat"].tolist()[:2] == [52.48493, 52.45942]
    # counted per input row: 4 rows placed, 1 rejected, 5 rows in
    assert (res.n_input, res.n_matched, res.n_rejected) == (5, 4, 1)
    assert res.summary().to_dict() == {"matched": 4, "swapped_latlon": 1}
    rej = res.rejected.iloc[0]
    assert rej["source_row"] == 4 and rej["reason_text"].startswith("row 4: site 1: geometry")
    assert "; site 2: geometry POINT (0 0)" in rej["reason_text"]
    assert rej["geometry_wkt"].startswith("MULTIPOINT")
    _one_note(res, "3 feature(s) with several sites", "column 'site'")
    _one_note(res, "row 5, site 2 of 2 not placed (coordinates_out_of_range)")


def test_sites_of_one_organisation_are_not_duplicates_of_each_other():
    gdf = gpd.GeoDataFrame(
        {"name": ["Twin Sites", "Twin Sites"]},
        geometry=[MultiPoint([(406000, 286000), (406020, 286000)]), Point(406010, 286000)],
        crs="EPSG:27700",
    )
    res = read_organisations(gdf)
    assert res.organisations["site"].tolist() == [1, 2]
    assert res.rejected["reason"].tolist() == ["duplicate"]  # the second row, not a site
    assert res.rejected["duplicate_of"].tolist() == [1]
    assert res.n_input == 2 and res.n_matched == 1


def test_multipoint_is_not_split_when_geometry_is_not_used(small_lookup):
    gdf = gpd.GeoDataFrame(
        {"name": ["A"], "postcode": ["B12 8DN"]},
        geometry=[MultiPoint([(406000, 286000), (407000, 286000)])],
        crs="EPSG:27700",
    )
    res = read_organisations(gdf, coords="postcode", postcodes=small_lookup)
    assert len(res.organisations) == 1 and "site" not in res.organisations.columns

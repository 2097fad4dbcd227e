"""Tests for cnmap.iod: reading IoD File 7 (2019 and 2025) into short names."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnmap import iod
from cnmap.errors import MissingColumnError, ValidationError

WARRINGTON = "iod2019_file7_sample_warrington.csv"
BIRMINGHAM = "birmingham/imd2019_lsoa_birmingham.csv"


@pytest.fixture
def five(fixtures_dir: Path) -> Path:
    return fixtures_dir / "iod" / "five_lsoas_file7.csv"


@pytest.fixture
def five_raw(five: Path) -> pd.DataFrame:
    return pd.read_csv(five, dtype=str)


@pytest.fixture
def gamma2025(fixtures_dir: Path) -> Path:
    return fixtures_dir / "iod" / "iod2025_file7_three_lsoas.csv"


def _csv(text: str) -> io.StringIO:
    return io.StringIO(text)


# ------------------------------------------------------------------ constants


def test_constants_consistent() -> None:
    assert iod.N_LSOAS_ENGLAND == {2019: 32844, 2025: 33755}
    assert len(iod.DOMAINS) == 10 and len(iod.SUBDOMAINS) == 6
    # 4 ids + 16 indices x 3 + 5 populations = File 7's 57 columns
    assert len(iod.SHORT_NAMES) == 57 == len(iod.HEADERS_2019)
    assert list(iod.HEADERS_2019) == list(iod.SHORT_NAMES)
    assert set(iod.HEADERS_2025) == set(iod.SHORT_NAMES)
    assert set(iod.DOMAIN_POPULATION) == set(iod.INDICES)
    assert iod.DOMAIN_POPULATION["employment"] == "pop_working_age"
    assert iod.DOMAIN_POPULATION["idaci"] == "pop_children_0_15"
    assert iod.DOMAIN_POPULATION["idaopi"] == "pop_60_plus"
    assert iod.DOMAIN_POPULATION["income"] == "pop_total"
    assert iod.HEADERS_2019["pop_working_age"].endswith("prisoners) ")
    # every official header (both editions) maps back to its own short name
    for headers in (iod.HEADERS_2019, iod.HEADERS_2025):
        for short, header in headers.items():
            assert iod.short_name_for(header) == short, header


@pytest.mark.parametrize(
    ("header", "short"),
    [
        ("\ufeffLSOA code (2011)", "lsoa_code"),
        ("  lsoa   CODE (2021) ", "lsoa_code"),
        ("LSOA11CD", "lsoa_code"),
        ("Income Score (rate)", "income_score"),
        ("Income Deprivation Affecting Children Index (IDACI) Score (rate)", "idaci_score"),
        (
            "Income Deprivation Affecting Older People (IDAOPI) Rank (where 1 is most deprived)",
            "idaopi_rank",
        ),
        (
            "Living Environment Decile (where 1 is most deprived 10% of LSOAs)",
            "living_environment_decile",
        ),
        ("Outdoors Sub-domain Score", "living_environment_outdoors_score"),
        ("Wider Barriers Sub-domain Rank (where 1 is most deprived)", "barriers_wider_rank"),
        ("Total population: mid 2022", "pop_total"),
        ("Older population aged 60 and over: mid 2015 (excluding prisoners)", "pop_60_plus"),
        ("imd_rank", "imd_rank"),
        ("ward_code", None),
        ("Income Domain numerator", None),
    ],
)
def test_short_name_for(header: str, short: str | None) -> None:
    assert iod.short_name_for(header) == short


# ------------------------------------------------------------------ real File 7


def test_warrington_file7_all_57_columns(shared_data: Path) -> None:
    path = shared_data / WARRINGTON
    df = iod.read_iod(path)
    assert df.shape == (127, 57)
    assert list(df.columns) == list(iod.SHORT_NAMES)
    assert df.attrs["iod_edition"] == 2019
    assert df.attrs["iod_edition_source"] == "headers"
    assert df.attrs["n_lsoas_england"] == 32844
    assert df.attrs["unknown_columns"] == []
    # compare every cell with the raw text, read independently with the csv module
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert header[-1].endswith(" ")  # the published trailing space
    assert len(body) == 127
    for j, h in enumerate(header):
        short = iod.short_name_for(h)
        raw = [r[j] for r in body]
        if short in iod.ID_COLUMNS:
            assert df[short].tolist() == raw
        else:
            np.testing.assert_array_equal(
                df[short].to_numpy(dtype=float), np.array(raw, dtype=float)
            )
    first = df.iloc[0]
    assert first["lsoa_code"] == "E01012446"
    assert first["imd_score"] == pytest.approx(5.427)
    assert first["imd_rank"] == 30091 and first["imd_decile"] == 10
    assert first["health_score"] == pytest.approx(-0.142)
    assert first["pop_working_age"] == 744  # the trailing-space header
    assert df["imd_rank"].dtype == "int64" and df["pop_total"].dtype == "int64"
    assert df["imd_score"].dtype == "float64"
    assert df["lsoa_code"].dtype == "str"


def test_birmingham_partial_file7(shared_data: Path) -> None:
    df = iod.read_iod(shared_data / BIRMINGHAM)
    assert df.shape == (639, 32)
    assert {"imd_score", "income_score", "employment_score"} <= set(df.columns)
    assert "education_score" not in df.columns
    assert int(df["pop_total"].sum()) == 1_112_305
    assert int((df["imd_decile"] == 1).sum()) == 264
    assert df["lsoa_code"].is_unique and (df["lad_code"] == "E08000025").all()


def test_idempotent_and_no_mutation(five: Path, five_raw: pd.DataFrame) -> None:
    before = five_raw.copy()
    a = iod.read_iod(five_raw)
    pd.testing.assert_frame_equal(five_raw, before)  # caller's frame untouched
    b = iod.read_iod(a)
    pd.testing.assert_frame_equal(a, b)
    assert b.attrs["iod_edition"] == 2019
    assert iod.read_iod(five).equals(a)


def test_short_names_mixed_with_official_and_unknown(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame(
        {
            "ward_code": ["W1", "W2"],
            "lsoa_code": [" e01000001", "E01000002"],
            "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)": ["7", "9"],
            "pop_total": [10.5, 20],
        },
        index=[10, 11],
    )
    with caplog.at_level(logging.INFO, logger="cnmap.iod"):
        df = iod.read_iod(frame)
    assert list(df.columns) == ["lsoa_code", "imd_rank", "pop_total", "ward_code"]
    assert df["lsoa_code"].tolist() == ["E01000001", "E01000002"]  # stripped, upper
    assert df["ward_code"].tolist() == ["W1", "W2"]
    assert df["pop_total"].dtype == "float64"  # not whole numbers: kept as float
    assert df.index.tolist() == [0, 1]
    assert df.attrs["unknown_columns"] == ["ward_code"]
    assert df.attrs["iod_edition_source"] == "default"
    assert "ward_code" in caplog.text and "not recognised" in caplog.text


def test_bom_crlf_and_thousands_separators(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    text = (
        'LSOA code (2011),"Index of Multiple Deprivation (IMD) Rank (where 1 is most '
        'deprived)",Total population: mid 2015 (excluding prisoners)\r\n'
        'E01000001,"1,234","1,500"\r\n'
    )
    p.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    df = iod.read_iod(p)
    assert list(df.columns) == ["lsoa_code", "imd_rank", "pop_total"]
    assert df["imd_rank"].item() == 1234 and df["pop_total"].item() == 1500


def test_iod2025_headers(gamma2025: Path) -> None:
    df = iod.read_iod(gamma2025)
    assert df.attrs["iod_edition"] == 2025
    assert df.attrs["lsoa_vintage"] == 2021
    assert df.attrs["n_lsoas_england"] == 33755
    assert list(df.columns) == [
        "lsoa_code",
        "lsoa_name",
        "lad_code",
        "lad_name",
        "imd_score",
        "imd_rank",
        "imd_decile",
        "idaopi_score",
        "idaopi_rank",
        "idaopi_decile",
        "pop_total",
        "pop_children_0_15",
        "pop_60_plus",
        "pop_working_age",
    ]
    assert df["idaopi_rank"].max() == 33755  # > 32844: valid only for IoD2025
    assert df["pop_working_age"].tolist() == [900, 950, 500]


def test_edition_from_ranks_and_override(gamma2025: Path) -> None:
    short = iod.read_iod(gamma2025)
    bare = pd.DataFrame(short)  # a fresh frame: no attrs, short names only
    bare.attrs = {}
    again = iod.read_iod(bare)
    assert again.attrs["iod_edition"] == 2025
    assert again.attrs["iod_edition_source"] == "ranks"
    forced = iod.read_iod(bare[bare["idaopi_rank"] < 30000].drop(columns="imd_rank"), edition=2025)
    assert forced.attrs["iod_edition_source"] == "argument"
    assert forced.attrs["iod_edition"] == 2025


def test_edition_of(five: Path) -> None:
    assert iod.edition_of(iod.read_iod(five)) == 2019
    assert iod.edition_of(pd.DataFrame()) is None


# ------------------------------------------------------------------ error paths


def test_missing_lsoa_code_column() -> None:
    with pytest.raises(MissingColumnError, match=r"no LSOA code column.*LSOA code \(2011\)"):
        iod.read_iod(_csv("LAD,Income Score (rate)\nE08000025,0.1\n"))


def test_non_numeric_rank_names_line_and_column() -> None:
    text = "LSOA code (2011),Crime Rank (where 1 is most deprived)\nE01000001,12\nE01000002,n/a\n"
    with pytest.raises(
        ValidationError,
        match=r"'Crime Rank \(where 1 is most deprived\)' \(crime_rank\) has "
        r"non-numeric values at line 3 \(first: 'n/a'\)",
    ):
        iod.read_iod(_csv(text))


def test_non_numeric_in_frame_names_index_label() -> None:
    frame = pd.DataFrame({"lsoa_code": ["E01000001"], "imd_score": ["abc"]}, index=["r7"])
    with pytest.raises(ValidationError, match=r"non-numeric values at row 'r7'"):
        iod.read_iod(frame)


@pytest.mark.parametrize("rank", ["0", "32845", "12.5", "-3"])
def test_rank_out_of_range(rank: str) -> None:
    text = f"LSOA code (2011),Income Rank (where 1 is most deprived)\nE01000001,{rank}\n"
    with pytest.raises(ValidationError, match=r"not whole numbers in 1\.\.32,844.*line 2"):
        iod.read_iod(_csv(text))


def test_rank_valid_2025_invalid_when_forced_2019(gamma2025: Path) -> None:
    with pytest.raises(ValidationError, match=r"1\.\.32,844 \(IoD2019"):
        iod.read_iod(gamma2025, edition=2019)


@pytest.mark.parametrize("decile", ["0", "11", "2.5"])
def test_decile_out_of_range(decile: str) -> None:
    text = (
        "LSOA code (2011),Crime Decile (where 1 is most deprived 10% of LSOAs)\n"
        f"E01000001,3\nE01000002,{decile}\n"
    )
    with pytest.raises(ValidationError, match=r"deciles outside 1\.\.10 at line 3"):
        iod.read_iod(_csv(text))


def test_duplicate_lsoa_codes() -> None:
    text = "LSOA code (2011),IMD Score\nE01000001,1\nE01000002,2\nE01000001,3\n"
    with pytest.raises(
        ValidationError, match=r"duplicate LSOA codes \['E01000001'\] at line 2, line 4"
    ):
        iod.read_iod(_csv(text))


def test_blank_lsoa_code() -> None:
    frame = pd.DataFrame({"lsoa_code": ["E01000001", None]})
    with pytest.raises(ValidationError, match=r"blank at row 1.*Every row needs its LSOA"):
        iod.read_iod(frame)


def test_bad_lsoa_code_format() -> None:
    frame = pd.DataFrame({"lsoa_code": ["E01000001", "W01000001"]})
    with pytest.raises(ValidationError, match=r"not English LSOA codes.*'W01000001'"):
        iod.read_iod(frame)


def test_blank_numeric_cell() -> None:
    text = (
        "LSOA code (2011),Total population: mid 2015 (excluding prisoners)\n"
        "E01000001,\nE01000002,5\n"
    )
    with pytest.raises(ValidationError, match=r"\(pop_total\) is blank at line 2"):
        iod.read_iod(_csv(text))


def test_rate_given_as_percentage() -> None:
    frame = pd.DataFrame({"lsoa_code": ["E01000001"], "income_score": [23.2]})
    with pytest.raises(ValidationError, match=r"outside 0\.\.1.*divide them by 100"):
        iod.read_iod(frame)


def test_negative_population() -> None:
    frame = pd.DataFrame({"lsoa_code": ["E01000001"], "pop_60_plus": [-1]})
    with pytest.raises(ValidationError, match=r"negative populations at row 0"):
        iod.read_iod(frame)


def test_two_columns_same_meaning() -> None:
    frame = pd.DataFrame(
        {
            "lsoa_code": ["E01000001"],
            "imd_rank": [1],
            "Index of Multiple Deprivation (IMD) Rank": [1],
        }
    )
    with pytest.raises(ValidationError, match=r"both mean 'imd_rank'"):
        iod.read_iod(frame)


def test_unknown_edition() -> None:
    with pytest.raises(ValidationError, match=r"edition=2015 is not a known IoD edition"):
        iod.read_iod(pd.DataFrame({"lsoa_code": ["E01000001"]}), edition=2015)


def test_mixed_edition_headers() -> None:
    frame = pd.DataFrame({"LSOA code (2011)": ["E01000001"], "Total population: mid 2022": [5]})
    with pytest.raises(ValidationError, match=r"mixes editions"):
        iod.read_iod(frame)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(ValidationError, match=r"empty\.csv: the file is empty"):
        iod.read_iod(p)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes("LSOA code (2011),LSOA name (2011)\nE01000001,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError, match=r"not UTF-8.*re-save it as UTF-8"):
        iod.read_iod(p)


def test_xlsx_sheet_detection(tmp_path: Path) -> None:
    p = tmp_path / "file1.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"Notes": ["about this file"]}).to_excel(xw, sheet_name="Notes", index=False)
        pd.DataFrame(
            {"LSOA code (2011)": ["E01000001"], "Index of Multiple Deprivation (IMD) Rank": [17]}
        ).to_excel(xw, sheet_name="IMD2019", index=False)
    df = iod.read_iod(p)
    assert df["imd_rank"].tolist() == [17]
    assert "IMD2019" in df.attrs["source"]
    q = tmp_path / "nolsoa.xlsx"
    pd.DataFrame({"x": [1]}).to_excel(q, index=False)
    with pytest.raises(MissingColumnError, match=r"no sheet has an 'LSOA code' column"):
        iod.read_iod(q)

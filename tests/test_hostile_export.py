"""Hostile text in exported tables: a line break inside a cell never splits a CSV row, and no
cell or header of a CSV or workbook is left for a spreadsheet to run as a formula.

Checked three ways: Python's ``csv`` reader, ``openpyxl`` on the workbook, and a naive reader
that splits the CSV at every line break and every comma (as a legacy import wizard would).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from cnmap.export import write_tables

FORMULA = ("=", "+", "-", "@", "\t", "\r")

PAYLOADS = [
    "Smiles\r=1+1",
    "Smiles\n=1+1",
    "Smiles\r\n=1+1",
    "\r=1+1",
    '\n=HYPERLINK("http://evil")',
    "Top\r\n\r\n+cmd|' /C calc'!A0",
    "Club\n\t=1+1",
    "Hall\n-2+3",
    "Hub\r@SUM(A1:A9)",
    'Quote "x"\r=1+1,2',
]


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _naive_fields(path: Path) -> list[str]:
    """Fields as a reader that ignores quotes sees them: split at every CR/LF and comma."""
    text = path.read_bytes().decode("utf-8")
    return [f.lstrip('"') for line in re.split(r"\r\n|\r|\n", text) for f in line.split(",")]


def _assert_no_formula(cells: list[str], where: str) -> None:
    bad = [c for c in cells if c.startswith(FORMULA)]
    assert not bad, f"{where}: formula-like cells {bad}"


def _unguard(v: str) -> str:
    """The text without the guard quotes (at the start and after each line break)."""
    return re.sub(r"(^|(?<=[\r\n]))'", "", v)


def _normal(v: str) -> str:
    """XML turns CR and CRLF into LF: compare workbook text after the same change."""
    return v.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("payload", PAYLOADS, ids=[repr(p)[:24] for p in PAYLOADS])
def test_line_break_in_a_cell_keeps_the_row_and_guards_the_next_line(tmp_path, payload):
    df = pd.DataFrame({"name": ["Before", payload, "After"], "people": [1, 2, 3]})
    write_tables({"orgs": df}, tmp_path, formats=["csv", "xlsx"])
    rows = _csv_rows(tmp_path / "orgs.csv")
    assert len(rows) == len(df) + 1 and all(len(r) == 2 for r in rows), rows
    assert rows[1][0] == "Before" and rows[3] == ["After", "3"]
    assert rows[2][1] == "2"
    _assert_no_formula([c for r in rows for c in r], "csv reader")
    _assert_no_formula(_naive_fields(tmp_path / "orgs.csv"), "naive line split")
    # the text survives apart from the guard quotes
    assert rows[2][0] != payload and _unguard(rows[2][0]) == payload
    assert len(pd.read_csv(tmp_path / "orgs.csv")) == len(df)
    ws = load_workbook(tmp_path / "cnmap.xlsx")["orgs"]
    cells = [[c for c in r] for r in ws.iter_rows()]
    assert len(cells) == len(df) + 1
    assert cells[2][0].value == _normal(payload) and cells[2][0].data_type == "s"
    assert not [c.coordinate for r in cells for c in r if c.data_type == "f"]


HEADERS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tname", "org\r=1+1", "org\n+2"]


@pytest.mark.parametrize("header", HEADERS, ids=[repr(h)[:24] for h in HEADERS])
def test_headers_from_the_input_are_guarded(tmp_path, header):
    df = pd.DataFrame({header: ["a", "b"], "people": [1, 2]})
    write_tables({"orgs": df}, tmp_path, formats=["csv", "xlsx"])
    rows = _csv_rows(tmp_path / "orgs.csv")
    assert len(rows) == 3 and rows[0][1] == "people" and rows[1] == ["a", "1"]
    _assert_no_formula(rows[0], "csv header")
    _assert_no_formula(_naive_fields(tmp_path / "orgs.csv"), "naive line split")
    assert rows[0][0] != header and _unguard(rows[0][0]) == header
    ws = load_workbook(tmp_path / "cnmap.xlsx")["orgs"]
    assert ws["A1"].value == _normal(header) and ws["A1"].data_type == "s"
    assert df.columns[0] == header  # the caller's frame keeps its header


@pytest.mark.parametrize("where", ["parameters", "sources"])
def test_parameters_and_sources_with_line_breaks(tmp_path, where):
    evil = "organisations.csv\r=1+1"
    write_tables(
        {"t": pd.DataFrame({"a": [1]})},
        tmp_path,
        formats=["csv"],
        params={"organisations": evil},
        sources=pd.DataFrame({"title": [evil], "url": ["https://x"]}),
    )
    rows = _csv_rows(tmp_path / f"{where}.csv")
    assert len(rows) == 2 and len(rows[1]) == 2, rows
    _assert_no_formula([c for r in rows for c in r], where)
    _assert_no_formula(_naive_fields(tmp_path / f"{where}.csv"), "naive line split")


def test_unguarded_csv_still_quotes_line_breaks(tmp_path):
    """csv_guard_formulas=False leaves text as written, but a CR never splits a row."""
    df = pd.DataFrame({"name": ["a\r=1+1", "b\n=2+2", "=3+3"], "n": [1, 2, 3]})
    write_tables({"t": df}, tmp_path, formats=["csv"], csv_guard_formulas=False)
    rows = _csv_rows(tmp_path / "t.csv")
    assert rows[1:] == [["a\r=1+1", "1"], ["b\n=2+2", "2"], ["=3+3", "3"]]


def test_workbook_title_is_text_not_a_formula(tmp_path):
    write_tables(
        {"t": pd.DataFrame({"a": [1]})},
        tmp_path,
        formats=["xlsx"],
        title='=HYPERLINK("http://evil","Click")',
    )
    a1 = load_workbook(tmp_path / "cnmap.xlsx")["README"]["A1"]
    assert a1.data_type == "s" and a1.value.startswith("=HYPERLINK")


def test_objects_written_as_formula_text_are_guarded(tmp_path):
    """A non-string value (here a path) whose text starts a formula is guarded too."""
    df = pd.DataFrame({"read_from": [Path("=1+1"), Path("ok.csv")], "n": [1, 2]})
    write_tables({"t": df}, tmp_path, formats=["csv"])
    rows = _csv_rows(tmp_path / "t.csv")
    assert rows[1:] == [["'=1+1", "1"], ["ok.csv", "2"]]


def test_guard_keeps_numbers_and_blanks(tmp_path):
    df = pd.DataFrame(
        {"name": ["x\n-1", None, "y"], "mixed": ["-5", -5, None], "value": [-1.5, None, 2.0]}
    )
    write_tables({"t": df}, tmp_path, formats=["csv"])
    rows = _csv_rows(tmp_path / "t.csv")
    assert [r[0] for r in rows[1:]] == ["x\n'-1", "", "y"]
    assert [r[1] for r in rows[1:]] == ["'-5", "-5", ""]  # text guarded, the number kept
    assert [r[2] for r in rows[1:]] == ["-1.5", "", "2.0"]


def test_workbook_writes_objects_as_text(tmp_path):
    """Values that are neither text nor numbers (paths, here one that looks like a formula)
    are written as their text; decimals stay numbers."""
    from decimal import Decimal

    df = pd.DataFrame(
        {"read_from": [Path("=1+1"), Path("orgs.csv")], "amount": [Decimal("1.5"), Decimal("-2")]}
    )
    write_tables({"t": df}, tmp_path, formats=["xlsx"])
    ws = load_workbook(tmp_path / "cnmap.xlsx")["t"]
    assert [(c.value, c.data_type) for c in ws["A"]][1:] == [("=1+1", "s"), ("orgs.csv", "s")]
    assert [c.value for c in ws["B"]][1:] == [1.5, -2]


RICH = [
    '<r><t>a</t></r></is></c><c r="C2"><f>1+1</f></c><c r="D2" t="inlineStr"><is><r><t>b</t></r>',
    "<r>plain</r>",
    "<r></r>",
]


@pytest.mark.parametrize("text", RICH, ids=[repr(t)[:24] for t in RICH])
def test_text_that_looks_like_rich_text_xml_stays_text(tmp_path, text):
    # xlsxwriter copies text that starts with <r> and ends with </r> into the sheet unescaped
    # (its marker for rich strings): such text from a user's file must stay one text cell
    df = pd.DataFrame({text: [text, "ok"], "people": [1, 2]})
    write_tables({"orgs": df}, tmp_path, formats=["xlsx"], notes=[text], title=text)
    wb = load_workbook(tmp_path / "cnmap.xlsx")
    ws = wb["orgs"]
    cells = [[c for c in r] for r in ws.iter_rows()]
    assert [[c.value for c in r] for r in cells] == [[text, "people"], [text, 1], ["ok", 2]]
    assert cells[0][0].data_type == "s" and cells[1][0].data_type == "s"
    assert ws.max_column == 2 and ws.max_row == 3
    assert not [c.coordinate for s in wb for r in s.iter_rows() for c in r if c.data_type == "f"]
    assert wb["README"]["A1"].value == text and wb["README"]["A1"].font.b
    assert text in [c.value for r in wb["README"].iter_rows() for c in r]

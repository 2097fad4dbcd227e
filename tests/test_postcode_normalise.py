"""normalise_postcodes is vectorised (pyarrow for ASCII text, pandas' Python string methods for
the rest) and gives exactly what the one-value rule ``_normalise_one`` gives, for any text."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from cnmap.organisations.postcodes import _normalise_many, _normalise_one, normalise_postcodes

ODD = [
    "",
    " ",
    "b11aa",
    " B1  1AA ",
    "B36\u00a08QS",
    "sw1a1aa",
    "SW1A 1AA.",
    ".,;:",
    "GIR0AA",
    "gir 0aa",
    "B1 1AA\n",
    "\nB1 1AA",
    "ß1 1AA",
    "\ufb001 1\ufb00",
    "\u01311 1\u0131\u0131",
    "B1\u200b1AA",
    "\ufeffB11AA",
    "B1\u20601AA",
    "B1 1AA,;",
    ";B11AA",
    "B1.1AA",
    "ABCDE1AA",
    "A1AA",
    "12345",
    "B1 1A",
    "b1 1aa b1 1aa",
    "_x000D_",
    "\uff11\uff12\uff13\uff21\uff22",
    "B\u06611AA",
    "B11AA\u2028",
    "B1\x1c1AA",
    "B1\x0b1AA",
    "B1\x851AA",
    "E1W 1AA",
    "e1w1aa",
    "AB12 3CD",
    "AB123CD",
    "AB1234CD",
    "B1_1AA",
    "B 11AA",
    "B11 AA",
    "b.1.1.a.a",
    "B1 1AA.B1 1AA.",
]


def _same(got: np.ndarray, values: list[str]) -> list[tuple[str, object, object]]:
    """The values whose vectorised result differs from ``_normalise_one``'s."""
    bad = []
    for v, a in zip(values, got, strict=True):
        b = _normalise_one(v)
        both_missing = isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b)
        if not both_missing and not (type(a) is type(b) and a == b):
            bad.append((v, a, b))
    return bad


def test_odd_inputs_as_the_one_value_rule():
    assert _same(_normalise_many(np.array(ODD, dtype=object)), ODD) == []
    got = normalise_postcodes(pd.Series(ODD, index=range(10, 10 + len(ODD)), name="pc"))
    assert got.name == "pc" and got.index[0] == 10
    assert got.iloc[2] == "B1 1AA" and got.iloc[12] == "SS1 1AA" and pd.isna(got.iloc[0])


def test_every_code_point_alone_and_inside_a_postcode():
    # every character up to U+33FF (all the spaces, case oddities and invisible characters
    # the rule deals with), then the rest of the planes sampled
    chars = [chr(c) for c in range(0x3400) if not 0xD800 <= c <= 0xDFFF]
    chars += [chr(c) for c in range(0x3400, 0x110000, 97) if not 0xD800 <= c <= 0xDFFF]
    for values in (chars, [f"b1{c}1aa" for c in chars], [f"{c}B11AA{c}" for c in chars]):
        assert _same(_normalise_many(np.array(values, dtype=object)), values) == []


def test_random_spellings():
    rng = random.Random(7)
    alphabet = "ab1 .,;:AB0\u00a0\u200b\t\n\u00df\u0131-_ZQ9\r\x1f"
    values = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))) for _ in range(20000)
    ]
    assert _same(_normalise_many(np.array(values, dtype=object)), values) == []


def test_missing_values_stay_missing():
    got = normalise_postcodes(pd.Series([None, np.nan, "b11aa", pd.NA], dtype=object))
    assert got.isna().tolist() == [True, True, False, True] and got.iloc[2] == "B1 1AA"


@pytest.mark.slow
def test_the_mirrors_postcode_lookups(shared_data):
    """The full postcode columns of the mirror's NSPL extract (postcode area B) and OS
    Code-Point Open (England): every distinct spelling as the one-value rule gives it."""
    import pyarrow.parquet as pq

    nspl = pd.read_csv(shared_data / "birmingham" / "osm" / "postcodes_B.csv", dtype=str)
    codepoint = shared_data / "england" / "postcodes"
    files = sorted(codepoint.glob("codepo_*.parquet"))
    if not files:
        pytest.skip(f"no Code-Point Open parquet in {codepoint}")
    cp = pq.read_table(files[0], columns=["Postcode"]).column(0).to_pandas()
    for col in (nspl["postcode"], cp):
        values = col.dropna().astype(str).unique().tolist()
        assert len(values) > 50_000
        assert _same(_normalise_many(np.array(values, dtype=object)), values) == []

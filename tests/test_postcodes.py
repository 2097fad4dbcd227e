"""Tests for cnmap.postcodes: normalising, validating, extracting and geocoding postcodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnmap.errors import MissingColumnError, ValidationError
from cnmap.postcodes import (
    extract_postcode,
    geocode_postcodes,
    is_valid_postcode,
    normalise_postcodes,
    prepare_postcode_lookup,
)

# --------------------------------------------------------------------------- normalise


def test_normalise_spellings():
    s = pd.Series(
        [
            "b11aa",
            " B1  1AA ",
            "B36\u00a08QS",
            "b36 8qs\t",
            "",
            "   ",
            None,
            np.nan,
            "gir0aa",
            "B1-1AA",
            "SW1A1AA",
            "ec1a 1bb",
            "B11AA.",
            "B1\u202f1AA",
        ],
        index=list("abcdefghijklmn"),
        name="pc",
    )
    out = normalise_postcodes(s)
    assert out.name == "pc"
    assert list(out.index) == list("abcdefghijklmn")
    expected = [
        "B1 1AA",
        "B1 1AA",
        "B36 8QS",
        "B36 8QS",
        None,
        None,
        None,
        None,
        "GIR 0AA",
        "B1-1AA",
        "SW1A 1AA",
        "EC1A 1BB",
        "B1 1AA",
        "B1 1AA",
    ]
    got = [None if pd.isna(v) else v for v in out]
    assert got == expected


def test_normalise_does_not_mutate_and_accepts_lists():
    s = pd.Series(["b11aa", None])
    before = s.copy()
    normalise_postcodes(s)
    pd.testing.assert_series_equal(s, before)
    assert normalise_postcodes(["b368qs"]).tolist() == ["B36 8QS"]


def test_normalise_numbers_kept_as_text():
    assert normalise_postcodes(pd.Series([12345])).tolist() == ["12345"]
    assert normalise_postcodes(pd.Series([12345, 1.5], dtype=object)).tolist() == ["12345", "1.5"]
    out = normalise_postcodes(pd.Series([12345.0, np.nan]))  # a number column read as float
    assert out.iloc[0] == "12345" and pd.isna(out.iloc[1])


# --------------------------------------------------------------------------- validate


@pytest.mark.parametrize(
    "pc",
    [
        "B1 1AA",
        "B36 8QS",
        "M1 1AE",
        "CR2 6XH",
        "DN55 1PT",
        "W1A 1HQ",
        "EC1A 1BB",
        "SW1A 2AA",
        "GIR 0AA",
        "B99 9ZZ",
        "N1C 4AG",
        "E1W 1AA",
    ],
)
def test_valid_formats(pc):
    assert is_valid_postcode(pc, normalise=False)
    assert is_valid_postcode(pc.lower().replace(" ", ""))


@pytest.mark.parametrize(
    "pc",
    [
        "B1 1A",
        "B1 1AAA",
        "Q1 1AA",  # Q never first
        "BJ1 1AA",  # J never second
        "B1I 1AA",  # I not allowed third in A9A
        "AB1C 1AA",  # C not allowed fourth in AA9A
        "B1 1CA",
        "B1 1AK",
        "B1 1OO",  # C, K, O never in the inward letters
        "BFPO 1234",
        "BF1 1AA0",
        "12345",
        "",
        "B1-1AA",
        "B1 1ÄA",
    ],
)
def test_invalid_formats(pc):
    assert not is_valid_postcode(pc)


def test_is_valid_series_and_strict():
    s = pd.Series(["B1 1AA", "b11aa", None, "nonsense"], name="p")
    assert is_valid_postcode(s).tolist() == [True, True, False, False]
    assert is_valid_postcode(s, normalise=False).tolist() == [True, False, False, False]
    assert is_valid_postcode(s).name == "p"
    assert is_valid_postcode(s).dtype == bool


_LET = "ABCDEFGHIJKLMNOPRSTUWYZ"
_IN = "ABDEFGHJLNPQRSTUWXYZ"


@settings(max_examples=200, deadline=None)
@given(
    area=st.sampled_from(["B", "M", "L", "WS", "DY", "CV", "SW", "EC"]),
    district=st.integers(1, 99),
    sector=st.integers(0, 9),
    unit=st.text(alphabet=_IN, min_size=2, max_size=2),
    spaces=st.sampled_from(["", " ", "  ", "\u00a0", " \t"]),
    lower=st.booleans(),
)
@pytest.mark.slow
def test_normalise_roundtrip_property(area, district, sector, unit, spaces, lower):
    canonical = f"{area}{district} {sector}{unit}"
    typed = f" {area}{district}{spaces}{sector}{unit} "
    if lower:
        typed = typed.lower()
    out = normalise_postcodes(pd.Series([typed]))
    assert out.iloc[0] == canonical
    assert is_valid_postcode(canonical, normalise=False)
    # idempotent
    assert normalise_postcodes(out).iloc[0] == canonical
    # found inside a free-text address, spaced or not
    addr = pd.Series([f"12 High Street, Sometown, {typed.strip()}"])
    assert extract_postcode(addr).iloc[0] == canonical


# --------------------------------------------------------------------------- extract


def test_extract_last_postcode():
    s = pd.Series(
        [
            "Bromford Drive, Birmingham, West Midlands B36 8QS B36 8QS",
            "Unit 4, B368QS",
            "Moved from B1 1AA to 10 Broad Street, B15 1AU.",
            "Multiple Venues - email someone@outlook.com for address",
            None,
            "Jewellery Quarter (Contact 07765 706066)",
            "flat 3, b12 9qs birmingham",
            "ref XB1 1AAZ",  # glued to other characters: not a postcode
            "open 10am-2pm",
        ],
        name="address",
    )
    out = extract_postcode(s)
    got = [None if pd.isna(v) else v for v in out]
    assert got == ["B36 8QS", "B36 8QS", "B15 1AU", None, None, None, "B12 9QS", None, None]
    assert out.name == "address"


def test_extract_keeps_index():
    s = pd.Series(["a B1 1AA", "none"], index=[10, 3])
    assert list(extract_postcode(s).index) == [10, 3]


# --------------------------------------------------------------------------- geocode


@pytest.fixture
def lookup() -> pd.DataFrame:
    # three real Birmingham postcodes (ONS NSPL May 2025 via the mirror) and one without a location
    return pd.DataFrame(
        {
            "postcode": ["B1 1AA", "B36 8QS", "B15 1AU", "B13 3AH"],
            "lat": [52.47667, 52.50587, 52.47591, np.nan],
            "lon": [-1.90353, -1.81421, -1.91301, np.nan],
        }
    )


def test_geocode_statuses(lookup):
    s = pd.Series(
        ["b11aa", "B36 8QS ", "B1 1XX", "B13 3AH", "nonsense", None, ""],
        index=[5, 6, 7, 8, 9, 10, 11],
    )
    out = geocode_postcodes(s, lookup)
    assert list(out.index) == [5, 6, 7, 8, 9, 10, 11]
    assert out["status"].tolist() == [
        "ok",
        "ok",
        "unknown",
        "no_coordinates",
        "malformed",
        "missing",
        "missing",
    ]
    assert out.loc[5, "lat"] == 52.47667 and out.loc[5, "lon"] == -1.90353
    assert out.loc[5, "postcode"] == "B1 1AA"
    assert np.isnan(out.loc[[7, 8, 9, 10], ["lat", "lon", "easting", "northing"]].to_numpy()).all()
    # easting/northing computed from lat/lon; transforming back gives the lookup's lat/lon
    from pyproj import Transformer

    back = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon, lat = back.transform(out.loc[5, "easting"], out.loc[5, "northing"])
    assert (lat, lon) == (pytest.approx(52.47667, abs=1e-7), pytest.approx(-1.90353, abs=1e-7))


def test_geocode_bng_anchor():
    # The National Grid's true origin, 49°N 2°W, is E 400,000 N -100,000 (on OSGB36; WGS84
    # differs from OSGB36 by ~100 m here, so allow 150 m).
    lk = pd.DataFrame({"postcode": ["B1 1AA"], "lat": [49.0], "lon": [-2.0]})
    out = geocode_postcodes(pd.Series(["B1 1AA"]), lk)
    assert out.loc[0, "easting"] == pytest.approx(400_000, abs=150)
    assert out.loc[0, "northing"] == pytest.approx(-100_000, abs=150)


def test_geocode_uses_given_easting_northing(lookup):
    lk = lookup.assign(easting=[1.0, 2.0, 3.0, np.nan], northing=[10.0, 20.0, 30.0, np.nan])
    out = geocode_postcodes(pd.Series(["B36 8QS"]), lk)
    assert (out.loc[0, "easting"], out.loc[0, "northing"]) == (2.0, 20.0)


def test_geocode_lookup_spelling_and_duplicates(lookup):
    lk = pd.concat([lookup, pd.DataFrame({"postcode": ["b11aa"], "lat": [0.0], "lon": [0.0]})])
    lk["postcode"] = lk["postcode"].str.lower()
    out = geocode_postcodes(pd.Series(["B1 1AA"]), lk)
    assert out.loc[0, "lat"] == 52.47667  # first of the duplicates kept


def test_geocode_lookup_errors(lookup):
    with pytest.raises(MissingColumnError, match="lacks column.*'lat'"):
        geocode_postcodes(pd.Series(["B1 1AA"]), lookup.drop(columns="lat"))
    with pytest.raises(ValidationError, match="lookup must be a DataFrame"):
        geocode_postcodes(pd.Series(["B1 1AA"]), {"postcode": []})


def test_prepare_lookup_is_cached_and_pure(lookup):
    before = lookup.copy()
    prepared = prepare_postcode_lookup(lookup)
    pd.testing.assert_frame_equal(lookup, before)
    assert prepare_postcode_lookup(prepared) is prepared
    assert prepared.index.is_unique and prepared.index.name == "postcode"


def test_geocode_empty_input(lookup):
    out = geocode_postcodes(pd.Series([], dtype="str"), lookup)
    assert len(out) == 0 and list(out.columns) == [
        "postcode",
        "lat",
        "lon",
        "easting",
        "northing",
        "status",
    ]


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_lookup(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "birmingham" / "osm" / "postcodes_B.csv")


def test_every_real_b_postcode_is_valid_and_geocodes(real_lookup):
    assert len(real_lookup) == 62_720
    assert is_valid_postcode(real_lookup["postcode"], normalise=False).all()
    squashed = real_lookup["postcode"].str.replace(" ", "").str.lower()
    out = geocode_postcodes(squashed, real_lookup)
    counts = out["status"].value_counts().to_dict()
    assert counts == {"ok": 62_690, "no_coordinates": 30}
    assert (out["postcode"].to_numpy() == real_lookup["postcode"].to_numpy()).all()
    ok = out["status"] == "ok"
    # the B postcode area (Birmingham to Redditch and Tamworth) lies within this BNG box
    assert out.loc[ok, "easting"].between(385_000, 435_000).all()
    assert out.loc[ok, "northing"].between(245_000, 320_000).all()


def test_warm_space_addresses(shared_data, real_lookup):
    import geopandas as gpd

    g = gpd.read_file(shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson")
    pc = extract_postcode(g["address"])
    assert int(pc.notna().sum()) == 411  # 3 addresses name no postcode
    out = geocode_postcodes(pc, real_lookup)
    assert out["status"].value_counts().to_dict() == {"ok": 410, "missing": 3, "unknown": 1}
    assert out.loc[out["status"] == "unknown", "postcode"].tolist() == ["B76 6LH"]

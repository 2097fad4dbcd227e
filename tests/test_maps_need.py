"""Need layers on the interactive map (cnmap.maps.need, coverage_map(need_layers=...)).

Real data: the Census 2021 disability layer (TS038) of the data mirror, on Birmingham's 2011
LSOAs through ``cnmap.layers.report_layers`` (the ONS lookup), drawn on the map of
tests/helpers/fake_results.py (real Birmingham 2011 LSOAs and wards). The expected class
breaks, values and "no data" areas are computed here from the layer's own table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import cnmap
import cnmap.layers as L
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.maps import MapLayer, coverage_map, map_layer, save_html
from cnmap.maps import _style as S
from cnmap.maps import interactive as I
from tests.helpers import fake_results as F
from tests.test_hostile_map import read_page, shown

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cov(shared_data):
    return F.coverage(shared_data, evil=False)


@pytest.fixture(scope="module")
def disability(cov):
    """TS038 on the area's 2011 LSOAs (report_layers converts it through the ONS lookup)."""
    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    layer = next(x for x in L.report_layers(area) if x.name == "disability")
    assert set(layer.table["lsoa_code"]) == set(cov.lsoas["lsoa_code"])
    return layer


@pytest.fixture(scope="module")
def page(cov, disability, tmp_path_factory):
    m = coverage_map(cov, need_layers=[map_layer(disability, "disabled_share")], tiles=None)
    path = save_html(m, tmp_path_factory.mktemp("need") / "need.html")
    return m, read_page(path.read_text("utf-8"))


def _need_element(m, k: int = 0):
    return next(c for c in m._children.values() if getattr(c, "key", None) == f"need{k}")


def _expected_shares(cov, layer) -> np.ndarray:
    t = layer.table.set_index("lsoa_code")
    return (t["disabled"] / t["disability_total"]).reindex(cov.lsoas["lsoa_code"]).to_numpy()


# --------------------------------------------------------------------------------------
# map_layer and MapLayer
# --------------------------------------------------------------------------------------


def test_map_layer_from_a_share_column(disability):
    ml = map_layer(disability, "disabled_share")
    assert ml.fmt == "share"
    assert ml.label == "Disabled under the Equality Act (share of residents)"
    assert ml.title == f"{ml.label}, {disability.vintage}"
    assert ml.attribution == disability.attribution
    assert "Office for National Statistics" in ml.attribution
    t = disability.table.set_index("lsoa_code")
    code = t.index[7]
    assert ml.values[code] == pytest.approx(
        t.loc[code, "disabled"] / t.loc[code, "disability_total"]
    )
    assert ml.values.index.name == "lsoa_code" and ml.values.dtype == float


def test_map_layer_formats_guessed_from_the_column(disability):
    assert map_layer(disability, "disabled").fmt == "count"
    assert map_layer(disability, "disabled").label == "Disabled under the Equality Act"
    deri = L.read_deri()
    ml = map_layer(deri, "deri_score", title="Digital exclusion risk")
    assert (ml.fmt, ml.title) == ("score", "Digital exclusion risk")
    assert ml.format(2.4851) == "2.49" and ml.higher_is_need
    iod = L.read_iod2025()
    decile = map_layer(iod, "iod2025_income_decile")
    rank = map_layer(iod, "iod2025_income_rank")
    assert (decile.fmt, decile.higher_is_need, decile.format(3.0)) == ("decile", False, "3")
    assert (rank.fmt, rank.higher_is_need, rank.format(1234.0)) == ("count", False, "1,234")


def test_map_layer_names_the_missing_column(disability):
    with pytest.raises(MissingColumnError, match="no column 'disabled_shar'") as err:
        map_layer(disability, "disabled_shar")
    assert "'disabled_share'" in str(err.value) and "'not_disabled'" in str(err.value)


def test_map_layer_checks_its_values():
    with pytest.raises(ValidationError, match="not numbers for LSOA.*E01000002"):
        MapLayer("t", pd.Series([0.1, "lots"], index=["E01000001", "E01000002"]), "x")
    with pytest.raises(ValidationError, match="E01000001 appear more than once"):
        MapLayer("t", pd.Series([0.1, 0.2], index=["E01000001", "E01000001"]), "x")
    with pytest.raises(ValidationError, match="fmt='percent' is not one of"):
        MapLayer("t", pd.Series([0.1], index=["E01000001"]), "x", fmt="percent")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be a pandas Series"):
        MapLayer("t", [0.1], "x")  # type: ignore[arg-type]


def test_values_formatted_for_people():
    assert [S.quantile_class(v, (1.0, 2.0, 4.0)) for v in (1.0, 1.99, 2.0, 4.0, np.nan)] == [
        0,
        0,
        1,
        1,
        -1,
    ]
    from cnmap.maps.need import format_value

    assert format_value(0.1234, "share") == "12.3%"
    assert format_value(1234.4, "count") == "1,234"
    assert format_value(3.0, "decile") == "3"
    assert format_value(float("nan"), "score") == "no data"


# --------------------------------------------------------------------------------------
# on the map
# --------------------------------------------------------------------------------------


def test_need_layer_in_the_layer_control_and_off(page, disability):
    m, p = page
    title = map_layer(disability, "disabled_share").title
    assert title in p.overlays
    assert p.overlays.index(title) < p.overlays.index(I.layer_names(15)["wards"])
    var = _need_element(m).get_name()
    assert f"{var}.addTo(map_" not in p.text  # off when the map opens
    assert re.search(r"cnmap_area_layer_\w+\.addTo\(map_", p.text)  # others are on
    # the LSOA geometry is written once, shared with the coverage layers
    assert len(p.shared) == 3  # LSOAs, catchments, wards


def test_class_breaks_are_quantiles_of_the_area(page, cov, disability):
    m, p = page
    values = _expected_shares(cov, disability)
    want = np.quantile(values, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    el = _need_element(m)
    np.testing.assert_allclose(el.p.options["breaks"], want, rtol=1e-12)
    legend = next(
        x for x in p.legends if x.startswith(map_layer(disability, "disabled_share").title)
    )
    for lo, hi in zip(want[:-1], want[1:], strict=True):
        assert f"{100 * lo:.1f}% to {100 * hi:.1f}%" in legend
    counts = [int(x) for x in re.findall(r"%: (\d+) areas", legend)]
    assert sum(counts) == len(cov.lsoas) == 639 and max(counts) - min(counts) <= 1
    assert "no data" not in legend.split("grey")[0]  # every LSOA has a value
    # darker = more disabled residents: the top class has the darkest purple
    idx = el.p.style_index
    top = int(np.argmax(values))
    assert el.p.styles[idx[top]]["fillColor"] == S.NEED_COLOURS[-1]
    assert el.p.styles[idx[int(np.argmin(values))]]["fillColor"] == S.NEED_COLOURS[0]


def test_tooltip_shows_value_and_coverage(page, cov, disability):
    m, p = page
    t = disability.table.set_index("lsoa_code")
    share = t["disabled"] / t["disability_total"]
    code = str(share.idxmax())
    i = int(np.flatnonzero(cov.lsoas["lsoa_code"].to_numpy() == code)[0])
    area = p.areas[map_layer(disability, "disabled_share").title]
    feature = area["features"][i]
    assert feature["properties"]["i"] == i and f"({code})" in shown(feature["properties"]["t"])
    assert area["labels"] == [
        "Disabled under the Equality Act (share of residents)",
        "Within a 15-minute walk",
    ]
    row = [shown(v) for v in area["rows"][i]]
    assert row[0] == f"{100 * share[code]:.1f}%"
    lsoa = cov.lsoas.iloc[i]
    assert row[1] == (
        f"{S.fmt_pct(lsoa['share_covered_15min'])} ({S.fmt_int(lsoa['pop_covered_15min'])} of "
        f"{S.fmt_int(lsoa['population'])})"
    )


def test_attribution_added_to_the_map(page, disability):
    _, p = page
    calls = re.findall(r"addAttribution\((.*)\);", p.text)
    texts = [shown(__import__("json").loads(c)) for c in calls]
    assert disability.attribution in texts
    assert texts[0] == shown(S.ATTRIBUTION_HTML)


def test_lsoas_without_a_value_are_no_data(cov, caplog):
    """The 2021 table on the 2011 map: the LSOAs split or merged in 2021 have no value there;
    they are drawn grey, "no data", and counted in the legend."""
    ml = map_layer(L.read_disability(), "disabled_share")
    missing = sorted(set(cov.lsoas["lsoa_code"]) - set(ml.values.index))
    assert len(missing) == 23
    m = coverage_map(cov, need_layers=[ml], tiles=None, catchments=False)
    el = _need_element(m)
    codes = cov.lsoas["lsoa_code"].tolist()
    for code in missing:
        i = codes.index(code)
        assert el.p.styles[el.p.style_index[i]]["fillColor"] == S.MISSING_COLOUR
        assert el.p.rows[i][0] == "no data"
    assert len(el.p.style_index) == len(codes)  # none dropped
    assert "no data: 23 areas" in shown(el.p.legend)
    assert "the 616 areas with data" in shown(el.p.legend)
    kept = ml.values.reindex(codes).dropna().to_numpy()
    np.testing.assert_allclose(el.p.options["breaks"], np.quantile(kept, np.linspace(0, 1, 6)))


def test_no_value_at_all_is_said(cov, caplog):
    ml = MapLayer("Nothing here", pd.Series([0.5], index=["E01999999"]), "x")
    m = coverage_map(cov, need_layers=[ml], tiles=None, catchments=False)
    el = _need_element(m)
    assert set(el.p.rows[i][0] for i in range(len(cov.lsoas))) == {"no data"}
    assert f"no data: {len(cov.lsoas)} areas" in shown(el.p.legend)
    assert "no value for any of the 639 LSOAs" in caplog.text


def test_lower_is_need_reverses_the_palette(cov, disability):
    base = map_layer(disability, "not_disabled_share")
    ml = MapLayer(base.title, base.values, base.label, higher_is_need=False)
    el = _need_element(coverage_map(cov, need_layers=[ml], tiles=None, catchments=False))
    top = int(np.nanargmax(ml.aligned(cov.lsoas["lsoa_code"])))
    assert el.p.styles[el.p.style_index[top]]["fillColor"] == S.NEED_COLOURS[0]
    assert "darkest = lowest value" in shown(el.p.legend)


def test_need_layers_must_be_map_layers(cov, disability):
    with pytest.raises(ValidationError, match=r"need_layers\[0\] is a NeedLayer.*map_layer"):
        coverage_map(cov, need_layers=[disability], tiles=None)


def test_without_need_layers_nothing_changes(cov):
    html = coverage_map(cov, tiles=None, catchments=False).get_root().render()
    assert "cnmap-need" not in html and "breaks" not in html


def test_quantile_edges_with_ties_and_nothing():
    assert S.quantile_edges([np.nan, np.nan]) == ()
    assert S.quantile_edges([3.0, 3.0, 3.0]) == (3.0,)
    assert S.quantile_class(3.0, (3.0,)) == 0
    assert S.quantile_edges([1.0, 1.0, 1.0, 1.0, 2.0]) == pytest.approx((1.0, 1.2, 2.0))
    assert S.need_colours(1) == [S.NEED_COLOURS[-1]]
    assert S.need_colours(5, reverse=True) == list(S.NEED_COLOURS[::-1])

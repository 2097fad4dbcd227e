"""Equity figures (coverage by deprivation decile, who is served by need-layer group) and the
words every report page states (place, organisations and lists, walk, vintages, sources).

Bars are checked against the numbers they draw: a hand-made result with known shares, and real
Birmingham (LSOA 2021, IoD2025, the warm spaces and food banks lists, straight-line mode)
against the coverage result's own decile table and cnmap.groups.group_coverage.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from cnmap.errors import MissingColumnError, ValidationError
from cnmap.maps import _style as S
from cnmap.maps import save_figure, thin_figure
from cnmap.maps._figure_page import (
    RunFacts,
    run_facts,
    source_text,
    subtitle_text,
    text_width_in,
    wrap_text,
)
from cnmap.maps.figures_equity import (
    ABOVE_COLOUR,
    BELOW_COLOUR,
    SAME_COLOUR,
    decile_coverage,
    decile_figure,
    groups_figure,
)

PAGE_IN = 17 / 2.54


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _texts(fig: Figure) -> list[Text]:
    hidden: set[int] = set()
    for ax in fig.axes:
        if not ax.axison:
            hidden |= {id(t) for axis in (ax.xaxis, ax.yaxis) for t in axis.findobj(Text)}
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]


def _flat(fig: Figure) -> str:
    return " ".join(" ".join(t.get_text().split()) for t in _texts(fig))


def _title(fig: Figure) -> str:
    """The page title (the one text larger than 10 pt)."""
    big = [t for t in fig.texts if float(t.get_fontsize()) > 10]
    assert len(big) == 1
    return " ".join(big[0].get_text().split())


def _check_page(fig: Figure) -> None:
    """17 cm wide, no text under 8 pt, nothing cut off, no two texts overlapping."""
    assert fig.get_figwidth() == pytest.approx(PAGE_IN)
    texts = _texts(fig)
    assert not [(t.get_text(), t.get_fontsize()) for t in texts if float(t.get_fontsize()) < 8]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in texts]
    w, h = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    for t, b in zip(texts, boxes, strict=True):
        assert b.x0 >= -1 and b.x1 <= w + 1 and b.y0 >= -1 and b.y1 <= h + 1, t.get_text()
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            overlap = boxes[i].intersection(boxes[i], boxes[j])
            small = overlap is None or overlap.width * overlap.height < 4  # touching edges
            assert small, (texts[i].get_text(), texts[j].get_text())


def _vbars(ax) -> list[Rectangle]:
    """The bars of a bar chart (its one BarContainer), zero-height bars included."""
    assert len(ax.containers) == 1
    return list(ax.containers[0].patches)


def _hbars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# --------------------------------------------------------------------------------------
# a hand-made result: numbers checkable by hand
# --------------------------------------------------------------------------------------


@pytest.fixture()
def small():
    lsoas = pd.DataFrame(
        {
            "lsoa_code": ["A", "B", "C", "D"],
            "imd_decile": [1, 1, 3, None],
            "population": [100.0, 300.0, 200.0, 50.0],
            "pop_covered_5min": [50.0, 150.0, 0.0, 10.0],
            "pop_covered_15min": [100.0, 240.0, 100.0, 50.0],
        }
    )
    totals = pd.DataFrame({"minutes": [5, 15], "population": 650.0, "pop_covered": [210.0, 490.0]})
    totals["share_covered"] = totals["pop_covered"] / totals["population"]
    return SimpleNamespace(
        lsoas=lsoas, totals=totals, thresholds=(5, 15), params={}, area=None, organisations=None
    )


def test_decile_coverage_by_hand(small):
    t = decile_coverage(small)
    assert t["decile"].tolist() == [1, 3]  # decile of D unknown, deciles 2, 4-10 absent
    assert t["n_lsoas"].tolist() == [2, 1]
    assert t["population"].tolist() == [400, 200]
    assert t["share_covered_5min"].tolist() == pytest.approx([0.5, 0.0])
    assert t["share_covered_15min"].tolist() == pytest.approx([0.85, 0.5])
    with pytest.raises(MissingColumnError, match="income_decile"):
        decile_coverage(small, index="income")


def test_decile_figure_bars_are_the_shares(small, tmp_path):
    fig = decile_figure(small)
    ax = fig.axes[0]
    bars = _vbars(ax)
    assert len(bars) == 2  # one per decile present
    assert [b.get_height() for b in bars] == pytest.approx([85.0, 50.0])
    assert [to_hex(b.get_facecolor()) for b in bars] == [
        S.IMD_DECILE_COLOURS[0].lower(),
        S.IMD_DECILE_COLOURS[2].lower(),
    ]
    ref = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(ref) == 1 and ref[0].get_ydata()[0] == pytest.approx(100 * 490 / 650)
    five = [ln for ln in ax.lines if ln.get_label() == "5-minute walk"]
    assert list(five[0].get_ydata()) == pytest.approx([50.0, 0.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1\n400", "3\n200"]
    assert ax.get_ylim() == (0, 100)
    assert "(%)" in ax.get_ylabel()
    text = _flat(fig)
    # no place known: none in the title
    assert (
        _title(fig) == "Residents within a 15-minute walk of an organisation, by national "
        "IMD decile"
    )
    assert "85.0% of residents in decile 1 (most deprived), 50.0% in decile 3" in text
    assert "85.0%" in [t.get_text() for t in ax.texts]
    _check_page(fig)
    fig = decile_figure(small, minutes=5, title="T", subtitle=None, attribution=None)
    assert [b.get_height() for b in _vbars(fig.axes[0])] == pytest.approx([50.0, 0.0])
    with pytest.raises(ValidationError, match="minutes=10"):
        decile_figure(small, minutes=10)
    empty = SimpleNamespace(**{**small.__dict__, "lsoas": small.lsoas.assign(imd_decile=np.nan)})
    with pytest.raises(ValidationError, match="no LSOA"):
        decile_figure(empty)


# --------------------------------------------------------------------------------------
# the words of a page
# --------------------------------------------------------------------------------------


def test_run_facts_and_words():
    orgs = pd.DataFrame({"dataset": ["warm spaces"] * 3 + ["food banks"], "name": list("abcd")})
    area = SimpleNamespace(
        lad_name="Solihull",
        params={
            "population": "iod2025",
            "population_source": "iod2025: IoD2025 File 7 total population denominators (mid-2022)",
        },
        sources=pd.DataFrame({"id": ["osm_walk_network"], "vintage": ["extract of 2024-03-01"]}),
    )
    result = SimpleNamespace(
        area=area,
        organisations=orgs,
        params={
            "mode": "network",
            "speed_kmh": 3.3,
            "n_organisations": 4,
            "n_organisations_placed": 3,
            "lsoa_vintage": 2021,
            "iod": 2025,
            "residents": "streets",
            "network": {"source": "/x/district.gpkg"},
        },
    )
    f = run_facts(result)
    assert f.place == "Solihull" and f.lists == (("warm spaces", 3), ("food banks", 1))
    assert f.osm == "2024-03-01" and f.uses_osm and not f.postcodes
    sub = subtitle_text(f, 15, lead="Lead.")
    assert sub == (
        "Lead. 4 organisations from 2 lists: warm spaces 3, food banks 1; 1 too far "
        "from a street to count. 15-minute walk = 825 m at 3.3 km/h, along the "
        "street network. Data: LSOA 2021 boundaries, IoD2025, mid-2022 population, "
        "OpenStreetMap 2024-03-01."
    )
    src = source_text(f, deprivation=False)
    assert "English Indices of Deprivation 2025, MHCLG" in src  # the population is IoD's
    assert "Royal Mail" not in src and "© OpenStreetMap contributors, ODbL" in src
    # a crow-flies run with postcodes and no OSM data at all
    plain = RunFacts(place=None, iod=2019, postcodes=True)
    src = source_text(plain, deprivation=False)
    assert "Royal Mail" in src and "OpenStreetMap" not in src and "MHCLG" not in src
    assert "place" not in subtitle_text(plain, None)


def test_wrapping_is_measured():
    text = "word " * 60
    lines = wrap_text(text, 9, 3.0)
    assert len(lines) > 3
    assert all(text_width_in(line, 9) <= 3.0 for line in lines)
    assert " ".join(lines) == text.strip()


# --------------------------------------------------------------------------------------
# real Birmingham: two lists, straight-line mode
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bham(shared_data):
    import cnmap
    from cnmap.thin import thin_areas

    area = cnmap.load_area("E08000025")
    lists = []
    for name, label, kind in (
        ("warm_spaces_birmingham.geojson", "warm spaces", "warm space"),
        ("foodbanks_birmingham.geojson", "food banks", "food bank"),
    ):
        orgs = cnmap.read_organisations(
            shared_data / "birmingham/osm" / name, area=area
        ).organisations
        orgs.insert(0, "dataset", label)
        lists.append(orgs.assign(type=kind))
    orgs = gpd.GeoDataFrame(pd.concat(lists, ignore_index=True), crs=lists[0].crs)
    orgs["org_id"] = [f"o{i}" for i in range(len(orgs))]
    cov = cnmap.coverage(orgs, area, minutes=[5, 10, 15, 20], mode="crow_flies", detour_factor=1.3)
    return cov, thin_areas(cov)


@pytest.mark.slow
def test_birmingham_decile_figure_matches_the_coverage_deciles(bham, tmp_path):
    cov, _ = bham
    fig = decile_figure(cov)
    png, pdf = save_figure(fig, tmp_path / "coverage_by_imd_decile")
    assert abs(imread(png).shape[1] - PAGE_IN * 300) <= 1 and pdf.read_bytes()[:5] == b"%PDF-"
    dec = cov.deciles[cov.deciles["population"] > 0]
    bars = _vbars(fig.axes[0])
    assert len(bars) == len(dec) == 10
    assert [b.get_height() for b in bars] == pytest.approx(
        (100 * dec["share_covered_15min"]).tolist()
    )
    ref = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"][0]
    assert ref.get_ydata()[0] == pytest.approx(100 * cov.share_covered(15))
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[0] == f"1\n{dec['population'].iloc[0]:,.0f}"
    text = _flat(fig)
    n_w, n_f = (
        (cov.organisations["dataset"] == "warm spaces").sum(),
        (cov.organisations["dataset"] == "food banks").sum(),
    )
    assert _title(fig) == (
        "Birmingham: residents within a 15-minute walk of an organisation, "
        "by national IMD 2025 decile"
    )
    assert f"{n_w + n_f:,} organisations from 2 lists: warm spaces {n_w}, food banks {n_f}" in text
    assert "LSOA 2021 boundaries, IoD2025, mid-2022 population" in text
    assert "National IMD 2025 decile (1 = most deprived 10% of LSOAs in England)" in text
    assert "English Indices of Deprivation 2025, MHCLG" in text
    _check_page(fig)
    # another IoD domain: the income deciles of the same LSOAs
    fig = decile_figure(cov, index="income")
    inc = decile_coverage(cov, index="income")
    assert len(_vbars(fig.axes[0])) == len(inc)
    assert "Income domain (IoD2025) decile" in _flat(fig)


@pytest.fixture(scope="module")
def groups(bham):
    from cnmap.groups import group_coverage
    from cnmap.layers import report_layers

    cov, _ = bham
    layers = report_layers(cov.area)
    return group_coverage(cov, layers), layers


@pytest.mark.slow
def test_who_is_served_bars_and_gaps(bham, groups, tmp_path):
    cov, _ = bham
    table, layers = groups
    fig = groups_figure(table, result=cov, layers=layers)
    share_ax, gap_ax = fig.axes
    at15 = table[table["minutes"] == 15]
    rows = at15[at15["kind"] != "all"]
    bars = _hbars(share_ax)
    assert len(bars) == len(rows)  # one bar per group, in table order within each layer
    assert [b.get_width() for b in bars] == pytest.approx((100 * rows["share_covered"]).tolist())
    gaps = _hbars(gap_ax)
    assert [b.get_width() for b in gaps] == pytest.approx((100 * rows["gap_vs_all"]).tolist())
    expected = [
        BELOW_COLOUR if g <= -0.01 else ABOVE_COLOUR if g >= 0.01 else SAME_COLOUR
        for g in rows["gap_vs_all"]
    ]
    assert [to_hex(b.get_facecolor()).upper() for b in bars] == [c.upper() for c in expected]
    # one reference line per layer, at the share of all its residents
    refs = sorted(ln.get_xdata()[0] for ln in share_ax.lines if ln.get_linestyle() == "--")
    alls = sorted(100 * at15.loc[at15["kind"] == "all", "share_covered"])
    assert refs == pytest.approx(alls)
    text = _flat(fig)
    for ly in layers:
        assert " ".join(ly.title.split()) in text
    white = at15[(at15["layer"] == "ethnic_group") & (at15["group"] == "ethnic_white")].iloc[0]
    assert f"{white['residents']:,.0f}" in [t.get_text() for t in share_ax.texts]
    assert "DERI score quintile 1 of 5 (highest)" in text
    assert "Census 2021, © Crown copyright" in text
    assert "Digital Exclusion Risk Index v1.6, Greater Manchester Combined Authority" in text
    assert text.count("Source: Office for National Statistics") <= 1
    _check_page(fig)
    png, _ = save_figure(fig, tmp_path / "who_is_served")
    assert png.exists()


@pytest.mark.slow
def test_who_is_served_options_and_errors(bham, groups):
    cov, _ = bham
    table, layers = groups
    fig = groups_figure(
        table, result=cov, layers=layers, show_layers=["age", "disability"], minutes=10
    )
    part = table[(table["minutes"] == 10) & table["layer"].isin(["age", "disability"])]
    rows = pd.concat(
        [part[(part["layer"] == n) & (part["kind"] != "all")] for n in ("age", "disability")]
    )
    assert [b.get_width() for b in _hbars(fig.axes[0])] == pytest.approx(
        (100 * rows["share_covered"]).tolist()
    )
    assert "10-minute walk" in _flat(fig)
    # without layers or result: headings from the layer names, no place
    fig = groups_figure(table[table["layer"] == "disability"])
    assert _title(fig) == "Who is within a 15-minute walk of an organisation, by group"
    assert "Disability (Census 2021)" in _flat(fig)
    with pytest.raises(ValidationError, match="not in the table"):
        groups_figure(table, show_layers=["nope"])
    with pytest.raises(ValidationError, match="minutes=12"):
        groups_figure(table, minutes=12)
    with pytest.raises(MissingColumnError, match="gap_vs_all"):
        groups_figure(table.drop(columns="gap_vs_all"))
    with pytest.raises(ValidationError, match="group_coverage"):
        groups_figure([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="empty"):
        groups_figure(table.iloc[:0])


@pytest.mark.slow
def test_birmingham_thin_areas_named(bham):
    cov, thin = bham
    fig = thin_figure(thin, result=cov)
    flagged = thin.lsoas[thin.lsoas["thin"]]
    assert len(flagged) >= 1
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_bbox_patch() is not None]
    if len(flagged) <= 6:
        assert sorted(labels) == sorted(
            f"{w}\n({n})" for w, n in zip(flagged["ward_name"], flagged["lsoa_name"], strict=True)
        )
    else:
        assert sorted(int(t) for t in labels) == list(range(1, len(flagged) + 1))
    # organisations drawn over the fills with a halo, every organisation once
    halo, marker = ax.collections[-2], ax.collections[-1]
    assert len(marker.get_offsets()) == len(cov.organisations)
    assert halo.get_sizes()[0] > marker.get_sizes()[0]
    text = _flat(fig)
    assert "Birmingham: where community infrastructure is thin" in text
    assert "Sources: Contains OS data" in text
    leaders = [ln for ln in ax.lines if len(ln.get_xdata()) == 2]
    assert len(leaders) == len(flagged)  # one leader line from each area to its name
    _check_page(fig)


@pytest.mark.slow
def test_birmingham_figures_quoted_in_the_docs(shared_data):
    """docs/figures.md quotes the decile chart of the warm spaces, straight-line mode."""
    from pathlib import Path

    import cnmap

    doc = (Path(__file__).resolve().parents[1] / "docs" / "figures.md").read_text("utf-8")
    area = cnmap.load_area("E08000025")
    warm = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    cov = cnmap.coverage(warm, area, minutes=[5, 10, 15, 20], mode="crow_flies", detour_factor=1.3)
    t = decile_coverage(cov).set_index("decile")["share_covered_15min"]
    quoted = (
        f"{100 * t[1]:.1f}% of residents in decile 1 live within a 15-minute walk of "
        f"one, {100 * t[10]:.1f}% in decile 10, {100 * cov.share_covered(15):.1f}% across "
        "the city"
    )
    assert quoted in " ".join(doc.split())
    assert (t[1], t[10]) == pytest.approx((0.987, 0.672), abs=5e-4)

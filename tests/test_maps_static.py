"""Static report maps: pages 17 cm wide that stand alone (title with the place, subtitle with the
organisations, walk and vintages, sources), legend counts, points on every fill, thin areas
outlined and named without overlaps, files written, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from cnmap.errors import CRSError, MissingColumnError, ValidationError
from cnmap.maps import _style as S
from cnmap.maps import (
    add_scale_bar,
    bivariate_figure,
    coverage_figure,
    imd_figure,
    save_figure,
    static_map,
    thin_figure,
)
from cnmap.maps.static import COVERAGE_BINS, COVERAGE_COLOURS, REPORT_DPI, bin_index
from tests.helpers import fake_results as F

PAGE_IN = 17 / 2.54


@pytest.fixture(scope="module")
def cov(shared_data):
    c = F.coverage(shared_data, evil=False)
    area = SimpleNamespace(
        lad_name="Birmingham",
        params={
            "population_source": "iod2019: IoD2019 denominators (mid-2015)",
            "population": "iod2019",
        },
        sources=pd.DataFrame(columns=["id", "vintage"]),
    )
    params = {
        **c.params,
        "lsoa_vintage": 2011,
        "iod": 2019,
        "n_organisations": 414,
        "n_organisations_placed": 414,
        "residents": "postcodes",
        "detour_factor": 1.3,
    }
    return dataclasses.replace(c, area=area, params=params)


@pytest.fixture(scope="module")
def thin(cov):
    t = F.thin(cov)
    t.params.update({"max_decile": 2, "min_share_covered": 0.5, "domain_label": "IMD"})
    return t


def _colour_share(png: Path, colour: str, tol: float = 0.02) -> float:
    """Share of the image's pixels within ``tol`` of ``colour`` (RGB, 0..1)."""
    img = imread(png)[..., :3]
    return float((np.abs(img - np.array(to_rgb(colour))).max(axis=2) < tol).mean())


def _texts(fig: Figure) -> list[Text]:
    """Every text drawn (axis labels of axes drawn without axes left out)."""
    hidden: set[int] = set()
    for ax in fig.axes:
        if not ax.axison:
            hidden |= {id(t) for axis in (ax.xaxis, ax.yaxis) for t in axis.findobj(Text)}
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]


def _all_text(fig: Figure) -> str:
    """All the figure's text, line breaks made spaces (wrapping does not matter)."""
    return " ".join(" ".join(t.get_text().split()) for t in _texts(fig))


def _renderer(fig: Figure):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # places legend entries, tick labels...
    return canvas.get_renderer()


def _extents(fig: Figure, texts: list[Text]) -> list:
    renderer = _renderer(fig)
    return [t.get_window_extent(renderer) for t in texts]


def _check_page(fig: Figure) -> None:
    """17 cm wide, no text under 8 pt, no text cut off at the page edges."""
    assert fig.get_figwidth() == pytest.approx(PAGE_IN)
    texts = _texts(fig)
    small = [(t.get_text(), t.get_fontsize()) for t in texts if float(t.get_fontsize()) < 8]
    assert not small
    w, h = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    for t, box in zip(texts, _extents(fig, texts), strict=True):
        assert box.x0 >= -1 and box.x1 <= w + 1 and box.y0 >= -1 and box.y1 <= h + 1, t.get_text()


@pytest.mark.slow
def test_coverage_figure_files_and_pixels(cov, tmp_path):
    fig = coverage_figure(cov)
    paths = save_figure(fig, tmp_path / "coverage_lsoas.png")
    assert [p.name for p in paths] == ["coverage_lsoas.png", "coverage_lsoas.pdf"]
    png, pdf = paths
    assert pdf.read_bytes()[:5] == b"%PDF-"
    img = imread(png)
    assert abs(img.shape[1] - PAGE_IN * REPORT_DPI) <= 1  # 17 cm at 300 dpi
    # the palest class (most LSOAs of the fixture: 95-100%) fills a large part of the page
    assert _colour_share(png, COVERAGE_COLOURS[-1]) > 0.05
    text = _all_text(fig)
    assert (
        "Birmingham: residents within a 15-minute walk of a community organisation, by LSOA" in text
    )
    share = cov.totals.set_index("minutes").loc[15, "share_covered"]
    assert f"{100 * share:.1f}% of residents" in text
    assert "414 organisations" in text
    assert "15-minute walk = 1,200 m at 4.8 km/h, straight line × 1.3 for detours" in text
    assert "LSOA 2011 boundaries, IoD2019, mid-2015 population" in text
    assert "Contains OS data © Crown copyright and database right" in text
    assert "Open Government Licence v3.0" in text and "Royal Mail" in text
    assert "OpenStreetMap" not in text  # nothing from OSM in this crow-flies fixture
    assert "2.5 km" in text  # scale bar label
    _check_page(fig)


def test_coverage_classes_count_areas_and_residents(cov):
    fig = coverage_figure(cov, organisations=False)
    col = cov.lsoas["share_covered_15min"]
    idx = bin_index(col, COVERAGE_BINS)
    assert idx.min() >= 0 and idx.max() <= 4
    text = _all_text(fig)
    for k, name in enumerate(["under 50%", "50–75%", "75–90%", "90–95%", "95–100%"]):
        n = int((idx == k).sum())
        people = cov.lsoas.loc[idx == k, "population"].sum()
        unit = "LSOA" if n == 1 else "LSOAs"
        assert f"{name}: {n:,} {unit}, {people:,.0f} residents" in text
    # 0.95 exactly is in the top class, 0.5 in the second
    assert list(bin_index(pd.Series([0.0, 0.5, 0.949, 0.95, 1.0, None]), COVERAGE_BINS)) == [
        0,
        1,
        3,
        4,
        4,
        -1,
    ]


@pytest.mark.slow
def test_osm_credit_and_vintage_when_the_network_is_osm(cov):
    params = {
        **cov.params,
        "mode": "network",
        "network": {"source": "/data/birmingham_walk_osm_2021-08.gpkg"},
    }
    fig = coverage_figure(dataclasses.replace(cov, params=params), organisations=False)
    text = _all_text(fig)
    assert "along the street network" in text
    assert "OpenStreetMap 2021-08" in text
    assert "© OpenStreetMap contributors, ODbL" in text


@pytest.mark.slow
def test_imd_figure_uses_decile_colours(cov, tmp_path):
    fig = imd_figure(cov)
    png = save_figure(fig, tmp_path / "imd", formats=("png",), dpi=100)[0]
    # Birmingham: 264 of 639 LSOAs in decile 1, so its red is a large share of the map
    d1 = _colour_share(png, S.IMD_DECILE_COLOURS[0])
    d10 = _colour_share(png, S.IMD_DECILE_COLOURS[9])
    assert d1 > 0.04
    assert d1 > 5 * d10
    text = _all_text(fig)
    assert "Birmingham: deprivation of each LSOA, by national IMD 2019 decile" in text
    assert "264 of 639 LSOAs" in text
    pop1 = cov.lsoas.loc[cov.lsoas["imd_decile"] == 1, "population"].sum()
    assert f"1 (most deprived): 264 LSOAs, {pop1:,.0f} residents" in text
    assert "km/h" not in text and "Royal Mail" not in text  # no walk shown
    _check_page(fig)


def _key(fig: Figure) -> list[tuple[str, str]]:
    """(number, name) of each entry of a key drawn under a map (numbers right-aligned)."""
    cols = [t for t in fig.texts if t.get_horizontalalignment() == "right"]
    out = []
    for numbers in cols:
        x = numbers.get_position()[0]
        names = min(
            (
                t
                for t in fig.texts
                if t.get_horizontalalignment() == "left" and t.get_position()[0] > x
            ),
            key=lambda t: t.get_position()[0] - x,
        )
        entry: list[list[str]] = []
        for num, name in zip(
            numbers.get_text().split("\n"), names.get_text().split("\n"), strict=True
        ):
            if num.strip():
                entry.append([num, name])
            else:
                entry[-1][1] += " " + name
        out += [(n, name) for n, name in entry]
    return out


def _label_texts(fig: Figure) -> list[Text]:
    ax = fig.axes[0]
    return [t for t in ax.texts if t.get_bbox_patch() is not None]


@pytest.mark.slow
def test_thin_areas_outlined_and_named_without_overlap(cov, thin, tmp_path):
    fig = thin_figure(thin, result=cov)
    flagged = thin.lsoas[thin.lsoas["thin"]]
    n = len(flagged)
    assert 1 <= n <= 6  # named directly
    text = _all_text(fig)
    assert f"Birmingham: where community infrastructure is thin ({n} LSOAs)" in text
    assert "among the 20% most deprived in England (IMD deciles 1–2)" in text
    labels = _label_texts(fig)
    assert sorted(t.get_text() for t in labels) == sorted(
        f"{w}\n({name})" for w, name in zip(flagged["ward_name"], flagged["lsoa_name"], strict=True)
    )
    boxes = _extents(fig, labels)
    for i in range(n):
        for j in range(i + 1, n):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    ax_box = fig.axes[0].get_window_extent(_renderer(fig))
    for b in boxes:  # inside the map frame
        assert b.x0 >= ax_box.x0 - 1 and b.x1 <= ax_box.x1 + 1
        assert b.y0 >= ax_box.y0 - 1 and b.y1 <= ax_box.y1 + 1
    png = save_figure(fig, tmp_path / "thin", formats=("png",), dpi=100)[0]
    assert _colour_share(png, S.THIN_COLOUR) > 0.0003
    _check_page(fig)


@pytest.mark.slow
def test_many_thin_areas_are_numbered_with_a_key(cov, thin):
    fig = thin_figure(thin, result=cov, direct_labels=2)
    flagged = thin.lsoas[thin.lsoas["thin"]].sort_values("rank")
    numbers = [t for t in _label_texts(fig) if t.get_text().isdigit()]
    assert sorted(int(t.get_text()) for t in numbers) == list(range(1, len(flagged) + 1))
    assert _key(fig) == [
        (str(k), f"{w} ({name})")
        for k, (w, name) in enumerate(
            zip(flagged["ward_name"], flagged["lsoa_name"], strict=True), start=1
        )
    ]
    # the numbered discs do not overlap
    boxes = _extents(fig, numbers)
    assert not any(
        boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
    )
    _check_page(fig)


def test_thin_frame_without_geometry(cov, thin):
    bare = F.FakeThin(
        lsoas=pd.DataFrame(thin.lsoas.drop(columns="geometry")), wards=thin.wards, params={}
    )
    with pytest.raises(ValidationError, match="pass the coverage result"):
        thin_figure(bare)
    fig = thin_figure(bare, result=cov)
    n = int(thin.lsoas["thin"].sum())
    # without the coverage result, the walk is read from the parameters the thin result keeps
    kept = F.FakeThin(
        lsoas=thin.lsoas,
        wards=thin.wards,
        params={
            **thin.params,
            "coverage": {
                "mode": "crow_flies",
                "speed_kmh": 4.8,
                "lsoa_vintage": 2011,
                "iod": 2019,
                "n_organisations": 414,
            },
        },
    )
    text = _all_text(thin_figure(kept))
    assert "414 organisations. 15-minute walk = 1,200 m at 4.8 km/h" in text
    assert "LSOA 2011 boundaries, IoD2019" in text
    assert f"thin infrastructure ({n} LSOAs)" in _all_text(fig)
    assert "flagged by the thin-infrastructure rule" in _all_text(fig)


@pytest.mark.slow
def test_bivariate_says_relative_to_the_place(cov, thin, tmp_path):
    fig = bivariate_figure(thin, result=cov)
    png = save_figure(fig, tmp_path / "biv", formats=("png",), dpi=100)[0]
    assert _colour_share(png, S.BIVARIATE_COLOURS["3-1"]) > 0.004
    text = _all_text(fig)
    assert "relative to the rest of Birmingham" in text
    assert "share of residents within a 15-minute walk" in text
    _check_page(fig)


def test_ward_level_names_the_least_covered_wards(cov):
    fig = coverage_figure(cov, level="ward", minutes=10, organisations=False)
    text = _all_text(fig)
    assert "by ward" in text
    low = cov.wards[cov.wards["share_covered_10min"] < 0.75].sort_values("share_covered_10min")
    assert len(low)
    if len(low) <= 6:  # named on the map
        assert sorted(low["ward_name"]) == sorted(t.get_text() for t in _label_texts(fig))
    else:  # numbered, least covered first, with a key
        assert _key(fig) == [(str(k), w) for k, w in enumerate(low["ward_name"], start=1)]
    with pytest.raises(ValidationError, match="minutes=12"):
        coverage_figure(cov, minutes=12)
    with pytest.raises(ValidationError, match="level"):
        coverage_figure(cov, level="region")


def test_points_show_on_dark_and_pale_fills(tmp_path):
    """A white halo round a dark-edged marker: both show whatever the fill."""
    sq = gpd.GeoDataFrame(
        {"v": [0.1, 0.99]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs="EPSG:27700",
    )
    pts = gpd.GeoDataFrame(
        {"type": [None, None]},
        geometry=[shapely.Point(500, 500), shapely.Point(1500, 500)],
        crs="EPSG:27700",
    )
    fig = static_map(
        sq,
        "v",
        bins=COVERAGE_BINS,
        bin_colours=COVERAGE_COLOURS,
        points=pts,
        points_column="type",
        scale_bar=False,
        attribution=None,
    )
    assert "Organisations (2)" in _all_text(fig)  # no type known: one legend entry
    dpi = 200
    fig.set_dpi(dpi)
    png = save_figure(fig, tmp_path / "pts", formats=("png",), dpi=dpi)[0]
    img = imread(png)[..., :3]
    ax = fig.axes[0]
    for x in (500, 1500):
        px, py = ax.transData.transform((x, 500))
        r, c = int(round(img.shape[0] - py)), int(round(px))
        win = img[r - 8 : r + 9, c - 8 : c + 9]
        assert (win.min(axis=2) > 0.95).any()  # the white halo
        assert (win.max(axis=2) < 0.2).any()  # the dark marker
    halo, marker = ax.collections[-2], ax.collections[-1]
    assert halo.get_sizes()[0] > marker.get_sizes()[0]
    assert tuple(halo.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)


def test_scale_bar_length_is_metric():
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xlim(400_000, 420_000)  # 20 km wide
    ax.set_ylim(280_000, 300_000)
    assert add_scale_bar(ax) == 2_500  # the round length just under a fifth of the width
    bars = [p for p in ax.patches]
    assert len(bars) == 2
    assert sum(p.get_width() for p in bars) == pytest.approx(2_500)
    assert add_scale_bar(ax, length_m=1_000, segments=4) == 1_000
    assert "1 km" in [t.get_text() for t in ax.texts]


def test_static_map_options_and_errors(cov):
    sq = gpd.GeoDataFrame(
        {"v": [0.1, 0.5, None], "cat": ["a", "b", "a"]},
        geometry=[
            shapely.box(0, 0, 100, 100),
            shapely.box(100, 0, 200, 100),
            shapely.box(0, 100, 100, 200),
        ],
        crs="EPSG:27700",
    )
    fig = static_map(
        sq,
        "v",
        bins=[0, 0.3, 1],
        bin_colours=["#ffffff", "#000000"],
        attribution=None,
        scale_bar=False,
    )
    text = _all_text(fig)
    assert "0 to 0.3" in text and "no data (1)" in text
    fig = static_map(sq, "v", attribution=None, title="T", subtitle="S")  # continuous
    assert len(fig.axes) == 2  # the map and its colour bar
    _check_page(fig)
    fig = static_map(sq.to_crs(4326), "cat", colours={"a": "#ff0000", "b": "#00ff00"})
    assert fig.axes[0].get_xlim()[0] > -100  # drawn in metres (EPSG:27700)
    with pytest.raises(MissingColumnError, match="'nope'"):
        static_map(sq, "nope")
    with pytest.raises(ValidationError, match="bin_colours needs 2"):
        static_map(sq, "v", bins=[0, 0.3, 1], bin_colours=["#fff"])
    with pytest.raises(ValidationError, match="ascending"):
        static_map(sq, "v", bins=[0, 0.3, 0.2], bin_colours=["#fff", "#000"])
    with pytest.raises(ValidationError, match="either colours"):
        static_map(sq, "v", bins=[0, 1], bin_colours=["#fff"], colours={"a": "#fff"})
    with pytest.raises(CRSError, match="no CRS"):
        static_map(gpd.GeoDataFrame(sq.drop(columns="geometry"), geometry=list(sq.geometry)), "v")
    with pytest.raises(MissingColumnError, match="no column 'kind'"):
        static_map(sq, "v", points=cov.organisations, points_column="kind")


@pytest.mark.slow
def test_points_and_existing_axes(cov, tmp_path):
    fig = Figure(figsize=(10, 5))
    ax1, ax2 = fig.subplots(1, 2)
    static_map(
        cov.lsoas,
        "imd_decile",
        ax=ax1,
        points=cov.organisations,
        colours={d: c for d, c in enumerate(S.IMD_DECILE_COLOURS, 1)},
        attribution=None,
    )
    static_map(
        cov.wards,
        None,
        ax=ax2,
        points=cov.organisations,
        points_column="type",
        attribution=S.ATTRIBUTION_TEXT,
    )
    text = _all_text(fig)
    assert "Organisations (414)" in text
    counts = cov.organisations["type"].value_counts()
    assert f"Library ({counts['library']})" in text
    assert f"Warm space ({counts['warm_space']})" in text
    png = save_figure(fig, tmp_path / "two", formats=("png",), dpi=100)[0]
    assert imread(png).shape[1] != round(PAGE_IN * 100)  # panels are cropped, not a page
    coverage_figure(cov, ax=ax1)  # a panel: no page, the title on the axes
    assert ax1.get_title(loc="left").startswith("Birmingham: residents within")


def test_many_types_get_distinct_symbols_as_on_the_html_map():
    """13 types: no two share a (colour, marker) pair, and each matches the HTML map's symbol."""
    from shapely.geometry import Point

    from cnmap.maps import _style
    from cnmap.maps.static import _MPL_MARKER, _points_plan

    types = [f"type_{i:02d}" for i in range(13) for _ in range(13 - i)]
    pts = gpd.GeoDataFrame(
        {"type": types},
        geometry=[Point(400000 + i, 280000) for i in range(len(types))],
        crs="EPSG:27700",
    )
    plan = _points_plan(pts, "type", "Organisations")
    pairs = [(h.get_markerfacecolor(), h.get_marker()) for h in plan.handles]
    assert len(pairs) == 13 and len(set(pairs)) == 13
    html = _style.type_symbols(types)
    for h in plan.handles:
        key = h.get_label().split(" (")[0].lower().replace(" ", "_")
        colour, shape = html[key]
        assert (h.get_markerfacecolor(), h.get_marker()) == (colour, _MPL_MARKER[shape])
    assert set(plan.markers) == {"o", "s"} and len(plan.markers) == len(types)


def _squares_with_hole() -> gpd.GeoDataFrame:
    """Three areas in BNG: a square with a hole, a two-part area and an empty geometry."""
    from shapely.geometry import MultiPolygon, Polygon, box

    holed = Polygon(
        [(0, 0), (0, 900), (900, 900), (900, 0)], [[(300, 300), (600, 300), (600, 600)]]
    )
    two = MultiPolygon([box(1000, 0, 1400, 400), box(1500, 500, 1900, 900)])
    return gpd.GeoDataFrame({"v": [1, 2, 3]}, geometry=[holed, two, Polygon()], crs="EPSG:27700")


def _pixels(draw) -> np.ndarray:
    fig = Figure(figsize=(3, 1.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    draw(ax)
    ax.set_xlim(-50, 1950)
    ax.set_ylim(-50, 950)
    ax.set_axis_off()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_shared_paths_draw_as_geopandas_and_are_made_once():
    from cnmap.maps import _figure_shapes as shapes

    frame = _squares_with_hole()
    face = ["#ff0000", "#00aa00", "#0000ff"]
    shapes.clear_cache()

    def ours(ax):
        shapes.fill_polygons(ax, frame, face)
        shapes.draw_boundaries(ax, frame, color="#333333", linewidth=1.5)

    def theirs(ax):
        frame.plot(ax=ax, color=face, edgecolor="white", linewidth=0.25)
        frame.boundary.plot(ax=ax, color="#333333", linewidth=1.5)

    assert (_pixels(ours) == _pixels(theirs)).all()
    # the hole is not filled: its centre keeps the white background
    assert tuple(_pixels(ours)[82, 82][:3]) == (255, 255, 255)  # (500, 400) in the hole
    assert tuple(_pixels(ours)[120, 40][:3]) == (255, 0, 0)  # (217, 150): filled
    # a copy of the frame (new objects, same areas) reuses the paths made for the first
    ax = Figure().add_subplot()
    first = shapes.fill_polygons(ax, frame, face).get_paths()
    again = shapes.fill_polygons(ax, frame.copy(), ["#000000"] * 3)
    assert all(a is b for a, b in zip(first, again.get_paths(), strict=True))
    assert len(first) == 2  # the empty area draws nothing
    assert [to_rgb(c) for c in again.get_facecolor()] == [(0.0, 0.0, 0.0)] * 2
    # other areas get their own paths
    moved = frame.set_geometry(frame.geometry.translate(5, 0))
    assert shapes.fill_polygons(ax, moved, face).get_paths()[0] is not first[0]
    assert shapes.polygonal(frame) and not shapes.polygonal(frame.set_geometry(frame.centroid))


def test_static_map_of_points_falls_back_to_geopandas():
    frame = _squares_with_hole()
    pts = frame.iloc[:2].set_geometry(frame.iloc[:2].representative_point())
    fig = static_map(pts, "v", boundaries=frame, outline=frame.iloc[:1])
    ax = fig.axes[0]
    assert len(ax.collections) >= 3  # the points, the boundaries, the outline (halo + line)


def test_saved_png_is_the_page_as_drawn(cov, tmp_path):
    """The fast PNG writer gives the pixels matplotlib's own PNG writer gives, without the
    (all opaque) alpha channel, at 300 dpi."""
    from PIL import Image

    fig = imd_figure(cov)
    ours = save_figure(fig, tmp_path / "ours", formats=("png",))[0]
    fig.savefig(tmp_path / "theirs.png", dpi=REPORT_DPI, facecolor="white")
    a, b = Image.open(ours), Image.open(tmp_path / "theirs.png")
    assert a.mode == "RGB" and a.size == b.size
    assert round(a.info["dpi"][0]) == REPORT_DPI
    assert (np.asarray(a) == np.asarray(b.convert("RGB"))).all()
    assert (np.asarray(b)[..., 3] == 255).all()

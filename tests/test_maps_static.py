"""Static report maps: files written, pixels drawn, legend/scale bar/attribution, errors."""

from __future__ import annotations

from pathlib import Path

import cnmap_test_fake_results as F  # tests/fixtures/maps/fake_results.py (conftest)
import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.image import imread

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


@pytest.fixture(scope="module")
def cov(shared_data):
    return F.coverage(shared_data, evil=False)


@pytest.fixture(scope="module")
def thin(cov):
    return F.thin(cov)


def _colour_share(png: Path, colour: str, tol: float = 0.02) -> float:
    """Share of the image's pixels within ``tol`` of ``colour`` (RGB, 0..1)."""
    img = imread(png)[..., :3]
    return float((np.abs(img - np.array(to_rgb(colour))).max(axis=2) < tol).mean())


def _non_white(png: Path) -> float:
    img = imread(png)[..., :3]
    return float((img.min(axis=2) < 0.95).mean())


def _texts(fig: Figure) -> str:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        out.append(ax.get_title(loc="left"))
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
            out.append(leg.get_title().get_text())
    return "\n".join(out)


def test_coverage_figure_files_and_pixels(cov, tmp_path):
    fig = coverage_figure(cov)
    paths = save_figure(fig, tmp_path / "coverage.png")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    png, pdf = paths
    assert png.stat().st_size > 50_000 and pdf.stat().st_size > 20_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert _non_white(png) > 0.25  # the city is drawn
    # the darkest share class (most LSOAs of the fixture) is visible
    assert _colour_share(png, S.SHARE_COLOURS[-1]) > 0.05
    text = _texts(fig)
    assert "Residents within 15 minutes' walk" in text
    assert "80–100%" in text and "warm_space" in text
    assert "Contains OS data © Crown copyright and database right" in text
    assert "OpenStreetMap contributors" in text and "Open Government Licence v3.0" in text
    assert "2.5 km" in text  # scale bar label


def test_imd_figure_uses_decile_colours(cov, tmp_path):
    png = save_figure(imd_figure(cov), tmp_path / "imd", formats=("png",))[0]
    # Birmingham: 264 of 639 LSOAs in decile 1, so its red is a large share of the map
    d1 = _colour_share(png, S.IMD_DECILE_COLOURS[0])
    d10 = _colour_share(png, S.IMD_DECILE_COLOURS[9])
    assert d1 > 0.05
    assert d1 > 5 * d10


def test_thin_and_bivariate_figures(cov, thin, tmp_path):
    fig = thin_figure(thin)
    png = save_figure(fig, tmp_path / "thin", formats=("png",))[0]
    n = int(thin.lsoas["thin"].sum())
    assert f"thin infrastructure ({n} LSOAs)" in _texts(fig)
    assert _colour_share(png, S.THIN_COLOUR) > 0.0005
    fig = bivariate_figure(thin, result=cov)
    png = save_figure(fig, tmp_path / "biv", formats=("png",))[0]
    assert _colour_share(png, S.BIVARIATE_COLOURS["3-1"]) > 0.005
    # thin.lsoas without geometry: joined from the coverage result's LSOAs
    bare = F.FakeThin(
        lsoas=thin.lsoas.drop(columns="geometry").rename_axis(None), wards=thin.wards, params={}
    )
    import pandas as pd

    bare.lsoas = pd.DataFrame(bare.lsoas)
    with pytest.raises(ValidationError, match="pass the coverage result"):
        thin_figure(bare)
    fig = thin_figure(bare, result=cov)
    assert f"thin infrastructure ({n} LSOAs)" in _texts(fig)


def test_ward_level_and_minutes(cov):
    fig = coverage_figure(cov, level="ward", minutes=10, organisations=False)
    assert "by ward" in _texts(fig)
    with pytest.raises(ValidationError, match="minutes=12"):
        coverage_figure(cov, minutes=12)
    with pytest.raises(ValidationError, match="level"):
        coverage_figure(cov, level="region")


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
    text = _texts(fig)
    assert "0 to 0.3" in text and "no data (1)" in text
    fig = static_map(sq, "v", attribution=None)  # continuous: a colour bar axes
    assert len(fig.axes) == 2
    fig = static_map(sq.to_crs(4326), "cat", colours={"a": "#ff0000", "b": "#00ff00"})
    assert fig.axes[0].get_xlim()[0] > -100  # drawn in metres (EPSG:27700)
    with pytest.raises(MissingColumnError, match="'nope'"):
        static_map(sq, "nope")
    with pytest.raises(ValidationError, match="bin_colours needs 2"):
        static_map(sq, "v", bins=[0, 0.3, 1], bin_colours=["#fff"])
    with pytest.raises(ValidationError, match="ascending"):
        static_map(sq, "v", bins=[0, 0.3, 0.2], bin_colours=["#fff", "#000"])
    with pytest.raises(CRSError, match="no CRS"):
        static_map(gpd.GeoDataFrame(sq.drop(columns="geometry"), geometry=list(sq.geometry)), "v")


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
    assert "Organisations (414)" in _texts(fig)
    assert "library (22)" in _texts(fig)
    png = save_figure(fig, tmp_path / "two", formats=("png",))[0]
    assert _non_white(png) > 0.2

"""``[output] need_columns``: need-layer columns in the LSOA and ward tables of a run.

The ward values are population-weighted means of the LSOA values over the ward's residents;
checked by hand on the street of tests/test_thin.py (W1 = A with 200 residents + B with 400).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnmap.coverage import coverage
from cnmap.errors import ValidationError
from cnmap.layers import TABLE_COLUMNS, NeedLayer
from cnmap.pipeline import (
    NeedColumns,
    load_config,
    need_lsoa_table,
    need_sources,
    need_ward_table,
    planned_steps,
    read_need_columns,
    tables_thin,
)
from cnmap.thin import thin_areas
from tests.test_thin import A, B, C, D, orgs_at, street, street_area, street_residents

ROOT = Path(__file__).resolve().parents[1]


def birmingham_doc() -> dict:
    with open(ROOT / "configs/birmingham.toml", "rb") as f:
        return tomllib.load(f)


def test_config_key_is_checked_and_suggests_names():
    doc = birmingham_doc()
    doc["output"]["need_columns"] = ["disabled_share", "deri_scor"]
    with pytest.raises(ValidationError, match=r"'deri_scor' is not a need column; did you mean"):
        load_config(doc)
    doc["output"]["need_columns"] = "disabled_share"
    with pytest.raises(ValidationError, match="must be a list of column names"):
        load_config(doc)
    doc["output"]["need_columns"] = ["disabled_share", "deri_score", "disabled_share"]
    cfg = load_config(doc)
    assert cfg.need_columns == ("disabled_share", "deri_score")
    assert planned_steps(cfg)[:3] == ["load area", "need columns", "read organisations"]
    del doc["output"]["need_columns"]
    cfg = load_config(doc)
    assert cfg.need_columns == () and "need columns" not in planned_steps(cfg)


def test_birmingham_config_names_valid_columns():
    names = birmingham_doc()["output"]["need_columns"]
    assert names and all(n in TABLE_COLUMNS for n in names)


@pytest.fixture(scope="module")
def street_need():
    cov = coverage(
        orgs_at([0]),
        street_area(),
        network=street(),
        residents=street_residents(),
        minutes=[5, 10, 15],
    )
    layer = NeedLayer(
        name="hand",
        title="Hand values",
        table=pd.DataFrame({"lsoa_code": [A, B, C, D], "v": [0.1, 0.4, 0.3, np.nan]}),
        lsoa_vintage=2011,
        source="made by hand",
        vintage="2026",
        licence="CC0",
        attribution="nobody",
        scores=("v",),
    )
    values = pd.DataFrame({"v": [0.1, 0.4, 0.3, np.nan]}, index=pd.Index([A, B, C, D]))
    return cov, NeedColumns(values.rename_axis("lsoa_code"), (layer,))


def test_lsoa_and_ward_columns_by_hand(street_need):
    cov, need = street_need
    th = thin_areas(cov)
    L = need_lsoa_table(th.lsoas, need)
    assert L["v"].tolist()[:3] == [0.1, 0.4, 0.3] and np.isnan(L["v"].iloc[3])
    W = need_ward_table(th.wards, cov.residents, need).set_index("ward_code")
    assert W.loc["W1", "v"] == pytest.approx((200 * 0.1 + 400 * 0.4) / 600)
    assert W.loc["W2", "v"] == pytest.approx(0.3)  # D has no value: left out of the mean
    # existing columns unchanged, the caller's tables untouched
    t2 = tables_thin(th, cov, need)
    assert list(t2.lsoas.columns) == [*th.lsoas.columns, "v"]
    pd.testing.assert_frame_equal(pd.DataFrame(t2.lsoas[th.lsoas.columns]), pd.DataFrame(th.lsoas))
    assert "v" not in th.lsoas.columns and tables_thin(th, cov, None) is th
    src = need_sources(need)
    assert src.loc[0, "id"] == "need_column:v" and src.loc[0, "publisher"] == "made by hand"
    assert src.loc[0, "licence"] == "CC0"


@pytest.mark.slow
def test_birmingham_need_columns_from_the_raw_files(shared_data):
    import cnmap

    area = cnmap.load_area("E08000025")
    names = ["disabled_share", "deri_score", "iod2025_barriers_geographical_score"]
    need = read_need_columns(area, names)
    assert list(need.values.columns) == names and len(need.values) == 659
    raw = pd.read_csv(
        shared_data / "birmingham/census2021/census2021_ts038_disability_bsol_lsoa21.csv"
    )
    dis = raw.loc[raw["disability"] == "Disabled under the Equality Act"].set_index("lsoa21_code")
    assert np.allclose(need.values["disabled_share"], dis["prop"].reindex(need.values.index))
    sub = pd.read_csv(shared_data / "england/iod2025/imd2025_england_lsoa21_subdomains.csv")
    geo = sub.set_index("lsoa21_code")["geographical_barriers_score"]
    assert np.allclose(
        need.values["iod2025_barriers_geographical_score"], geo.reindex(need.values.index)
    )
    assert need.values.notna().all().all()
    src = need_sources(need)
    assert src["id"].tolist() == [f"need_column:{n}" for n in names]
    deri = src.set_index("id").loc["need_column:deri_score"]
    assert "Greater Manchester Combined Authority" in deri["publisher"]
    assert "Converted from LSOA 2011" in deri["read_from"]


@pytest.mark.slow
def test_birmingham_need_columns_on_the_map(shared_data):
    import cnmap
    from cnmap.maps import coverage_map
    from cnmap.pipeline import need_map_layers

    area = cnmap.load_area("E08000025")
    need = read_need_columns(area, ["not_disabled_share", "deri_score"])
    layers = need_map_layers(need)
    assert [ly.fmt for ly in layers] == ["share", "score"]
    assert [ly.higher_is_need for ly in layers] == [False, True]
    for ly, col in zip(layers, need.values.columns, strict=True):
        assert np.allclose(ly.aligned(need.values.index), need.values[col])
    assert "Greater Manchester Combined Authority" in layers[1].attribution
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    cov = coverage(orgs, area, mode="crow_flies", detour_factor=1.3, minutes=[15])
    html = coverage_map(cov, need_layers=layers, catchments=False).get_root().render()
    assert layers[1].title in html and layers[0].title in html


def test_thin_domain_in_a_config_takes_need_columns():
    doc = birmingham_doc()
    for name in ("disabled_share", "deri_score", "iod2025_barriers_geographical", "income"):
        doc["thin"] = {"domain": name}
        assert load_config(doc).thin["domain"] == name
    doc["thin"] = {"domain": "wealth"}
    with pytest.raises(ValidationError, match=r"nor a need column \(.*disabled_share"):
        load_config(doc)

"""The one reader of an ``[[organisations]]`` file, shared by ``cnmap run`` and the scenarios."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from cnmap import schema as S
from cnmap.config import OrganisationSource
from cnmap.errors import ValidationError
from cnmap.organisations.sources import fill_type, read_organisation_source

CSV = (
    "name,kind,lat,lon\n"
    "Hall,food_bank,52.48,-1.90\n"
    "Library,,52.47,-1.89\n"
    "Nowhere,warm_space,91,-1.9\n"
)


def _source(tmp_path: Path, **kw: object) -> OrganisationSource:
    path = tmp_path / "orgs.csv"
    path.write_text(CSV, encoding="utf-8")
    return OrganisationSource(path=path, label="test list", **kw)  # type: ignore[arg-type]


def test_reads_labels_prefixes_and_fills_types(tmp_path: Path) -> None:
    src = _source(tmp_path, type="community_centre", type_col="kind")
    read = read_organisation_source(src, None, prefix="3-")
    orgs = read.organisations
    assert list(orgs.columns[:1]) == ["dataset"] and set(orgs["dataset"]) == {"test list"}
    assert orgs.crs.equals(S.BNG)
    assert orgs[S.NAME].tolist() == ["Hall", "Library"]
    assert all(i.startswith("3-") for i in orgs[S.ORG_ID])
    # the file's own type is kept; the blank one is filled by the source's type
    assert orgs[S.ORG_TYPE].tolist() == ["food_bank", "community_centre"]
    assert list(read.rejected.columns[:2]) == ["dataset", "file"]
    assert len(read.rejected) == 1 and read.rejected["file"].iloc[0] == str(src.path)
    assert read.summary["rows"] == 3 and read.summary["matched"] == 2
    assert read.summary["rejected"] == 1 and read.summary["file_rows"] == 3


def test_the_scenarios_and_the_run_read_a_file_alike(tmp_path: Path) -> None:
    from cnmap.pipeline import _read_source
    from cnmap.scenarios.sources import read_source

    src = _source(tmp_path, type_col="kind")
    g_run, rej_run, row, _ = _read_source(2, src, None)
    g_sc, rej_sc = read_source(src, None, prefix="2-")
    pd.testing.assert_frame_equal(
        pd.DataFrame(g_run.reset_index(drop=True)), pd.DataFrame(g_sc), check_like=False
    )
    pd.testing.assert_frame_equal(rej_run.reset_index(drop=True), rej_sc)
    assert row["matched"] == len(g_sc) == 2


def test_a_missing_file_names_the_label(tmp_path: Path) -> None:
    src = OrganisationSource(path=tmp_path / "absent.csv", label="absent list")
    with pytest.raises(ValidationError, match=r"absent\.csv \(absent list\) does not exist"):
        read_organisation_source(src, None)


def test_fill_type_leaves_the_input_alone() -> None:
    g = gpd.GeoDataFrame({S.ORG_TYPE: ["a", None]}, geometry=gpd.points_from_xy([0, 1], [0, 1]))
    out = fill_type(g, "b")
    assert out[S.ORG_TYPE].tolist() == ["a", "b"]
    assert g[S.ORG_TYPE].isna().tolist() == [False, True]
    assert fill_type(g, None) is g
    assert fill_type(g.drop(columns=S.ORG_TYPE), "c")[S.ORG_TYPE].tolist() == ["c", "c"]

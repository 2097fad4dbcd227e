"""The national run: exact halo partition, tables, Dask run, failures, resume, parameters.

- The halo partition is proved on a street grid (many equal-length paths: the hardest case
  for floating point) and on Birmingham (straight line; network mode is marked slow): the
  residents cut into pieces get the same per-resident walks, and the same LSOA and ward
  tables, as one run, to the last digit.
- The national path runs on Rutland and its neighbour Melton, from the
  mirror's national files, on a LocalCluster of threads (so monkeypatching reaches the tasks).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import cnmap
from cnmap import columns as C
from cnmap.errors import ValidationError
from cnmap.national import (
    WalkSpec,
    aggregate,
    halo_walks,
    read_national_config,
    run_national,
    sub_network,
)
from cnmap.national.halo import organisations_within
from tests.helpers import lattice as L

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "england_libraries.toml"
RUTLAND_AND_NEIGHBOURS = ["E06000017", "E07000133"]  # Rutland and its neighbour Melton


# ---------------------------------------------------------------------------------------------
# helpers


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal to the last digit (NaN equals NaN), column by column."""
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            x, y = x.astype(float), y.astype(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
        else:
            same = x == y
        assert same.all(), (
            f"{col}: {(~same).sum()} rows differ, e.g. {x[~same][:3]} != {y[~same][:3]}"
        )


def _pieces(
    res: gpd.GeoDataFrame, groups: np.ndarray, orgs: gpd.GeoDataFrame, area, spec, net
) -> tuple[pd.DataFrame, list]:
    """Walk each group of residents on its own halo; back in the residents' order."""
    parts, passes = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        h = halo_walks(res.iloc[idx], orgs, area, spec=spec, network=net)
        parts.append(h.residents.set_index(pd.Index(idx)))
        passes.append(h.passes)
    return pd.concat(parts).sort_index(), passes


def _stats(frame: pd.DataFrame, key: str, thresholds, types) -> pd.DataFrame:
    return aggregate(frame, key, thresholds, types)


def _check_partition(one, res, groups, orgs, area, spec, net) -> list:
    """Pieces equal one run: per resident, and by LSOA and ward."""
    whole = pd.DataFrame(one.residents.drop(columns="geometry"))
    split, passes = _pieces(res, groups, orgs, area, spec, net)
    _same(whole, split[whole.columns])
    types = list(one.types)
    for key, table in ((C.LSOA_CODE, one.lsoas), (C.WARD_CODE, one.wards)):
        mine = _stats(split, key, spec.minutes, types)
        theirs = table.set_index(key)[mine.columns].loc[mine.index]
        _same(mine.reset_index(), theirs.reset_index())
    return passes


# ---------------------------------------------------------------------------------------------
# the halo on a street grid


@pytest.fixture(scope="module")
def grid():
    n, step = 25, 100.0
    return L.lattice_network(n, step), L.lattice_area(n, step), n, step


@pytest.mark.parametrize("pieces", ["strips", "scattered"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("mode", ["network", "crow_flies"])
@pytest.mark.slow
def test_pieces_equal_one_run_on_a_grid(grid, seed, mode, pieces):
    net, area, n, step = grid
    rng = np.random.default_rng(seed)
    res = L.lattice_residents(rng, n, step, m=400)
    orgs = L.random_points(rng, 9 if mode == "network" else 40, n, step)
    orgs["type"] = rng.choice(["hub", "library"], len(orgs))
    spec = WalkSpec(minutes=(2, 3), speed_kmh=4.8, mode=mode, detour_factor=1.3)
    one = cnmap.coverage(orgs, area, residents=res, network=net, **spec.coverage_kwargs())
    if pieces == "strips":  # five strips west to east
        groups = ((res.geometry.x.to_numpy() - L.X0) // (n * step / 5)).astype(int)
    else:  # scattered pieces: borders everywhere
        groups = rng.integers(0, 5, len(res))
    passes = _check_partition(one, res, groups, orgs, area, spec, net)
    if pieces == "strips":  # the halo was a real cut: some pieces saw part of the organisations
        assert any(p[0].organisations < len(orgs) for p in passes)
    if mode == "network":  # widened where the nearest organisation was beyond the walk limit
        assert any(len(p) > 1 for p in passes)
    else:  # straight line: the first radius is the longest nearest walk, one pass
        assert all(len(p) == 1 and p[0].radius_m >= spec.walk_limit_m for p in passes)


def test_a_piece_never_holds_the_whole_network_when_the_halo_is_small(grid):
    net, area, n, step = grid
    rng = np.random.default_rng(5)
    res = L.lattice_residents(rng, n, step, m=30)
    corner = res[(res.geometry.x < L.X0 + 300) & (res.geometry.y < L.Y0 + 300)]
    xy = np.column_stack([corner.geometry.x, corner.geometry.y])
    sub, whole = sub_network(net, xy, 500.0)
    assert not whole and 0 < sub.n_nodes < net.n_nodes
    # every kept edge has both ends kept; the CSR is the whole network's, restricted
    assert sub.edge_u.max() < sub.n_nodes and sub.edge_v.max() < sub.n_nodes
    assert set(np.round(sub.data, 9)) <= set(np.round(net.data, 9))
    # every edge within the radius of a resident is there (by its end nodes' ids)
    import shapely

    d = shapely.distance(net.edge_geometry[:, None], shapely.points(xy)[None, :]).min(axis=1)
    need = {
        frozenset(p)
        for p in zip(
            net.node_ids[net.edge_u[d <= 500]], net.node_ids[net.edge_v[d <= 500]], strict=True
        )
    }
    have = {
        frozenset(p) for p in zip(sub.node_ids[sub.edge_u], sub.node_ids[sub.edge_v], strict=True)
    }
    assert need <= have
    _, whole = sub_network(net, xy, 10_000.0)
    assert whole


class _Source:
    """A network source over a whole network, recording the radii it was asked for."""

    def __init__(self, net):
        self.net, self.radii = net, []

    def around(self, xy, radius_m):
        self.radii.append(radius_m)
        return sub_network(self.net, xy, radius_m)


def test_a_network_source_gives_the_walks_of_the_whole_network(grid):
    from cnmap.national.halo import NetworkSource

    net, area, n, step = grid
    rng = np.random.default_rng(7)
    res = L.lattice_residents(rng, n, step, m=300)
    orgs = L.random_points(rng, 6, n, step)
    orgs["type"] = rng.choice(["hub", "library", "clinic"], len(orgs))
    spec = WalkSpec(minutes=(2, 3), speed_kmh=4.8, mode="network", max_snap_m=150.0)
    corner = np.flatnonzero(res.geometry.x.to_numpy() < L.X0 + n * step / 3)
    piece = res.iloc[corner]
    source = _Source(net)
    assert isinstance(source, NetworkSource)
    lazy = halo_walks(piece, orgs, area, spec=spec, network=source)
    whole = halo_walks(piece, orgs, area, spec=spec, network=net)
    _same(whole.residents, lazy.residents)
    assert [p.network_nodes for p in lazy.passes] == [p.network_nodes for p in whole.passes]
    # asked for the walk limit plus the snapping limit first, then wider
    assert source.radii[0] >= spec.walk_limit_m + spec.max_snap_m
    assert source.radii == sorted(source.radii)
    # and equal to one run over everything
    one = cnmap.coverage(orgs, area, residents=res, network=net, **spec.coverage_kwargs())
    ref = pd.DataFrame(one.residents.drop(columns="geometry")).iloc[corner]
    _same(ref.reset_index(drop=True), lazy.residents[ref.columns].reset_index(drop=True))


def test_the_next_radius_is_the_longest_unresolved_walk_found_or_double():
    from cnmap.national.halo import _next_radius

    spec = WalkSpec(minutes=(5,), speed_kmh=4.8, mode="network")  # 80 m a minute
    frame = pd.DataFrame(
        {"walk_min": [3.0, 40.0, np.inf, 90.0], "walk_min_hub": [3.0, 60.0, 7.0, np.nan]}
    )
    left = np.array([False, True, True, False])
    # the longest unresolved walk found: 60 min = 4,800 m (row 3 is resolved: not counted)
    assert _next_radius(frame, left, ["hub"], 400.0, spec) == pytest.approx(4800.0, rel=1e-5)
    assert _next_radius(frame, left, ["hub"], 400.0, spec) >= 4800.0
    # nothing finite unresolved, or shorter than double: double
    assert _next_radius(frame, np.array([False, False, True, False]), [], 400.0, spec) == 800.0
    assert _next_radius(frame, left, ["hub"], 3000.0, spec) == 6000.0


@pytest.mark.parametrize("radius", [0.0, 35.0, 120.0, 333.3, 2000.0])
def test_edges_near_are_exactly_those_within_the_radius(grid, radius):
    import shapely

    from cnmap.national.halo import _edges_near

    net, _, n, step = grid
    rng = np.random.default_rng(11)
    xy = rng.uniform([L.X0, L.Y0], [L.X0 + n * step / 2, L.Y0 + n * step / 3], size=(40, 2))
    xy[0] = [L.X0 + 3 * step, L.Y0 + 2 * step]  # on a node
    xy[1] = [L.X0 + 3 * step + 40.0, L.Y0 + 2 * step]  # on an edge, between its vertices
    d = shapely.distance(net.edge_geometry[:, None], shapely.points(xy)[None, :]).min(axis=1)
    assert np.array_equal(_edges_near(net, xy, radius), d <= radius)
    assert not _edges_near(net, xy[:0], radius).any()


def test_organisations_within_is_the_straight_line_radius():
    res = np.array([[0.0, 0.0], [1000.0, 0.0]])
    orgs = np.array([[0.0, 300.0], [1300.0, 0.0], [2000.0, 0.0], [500.0, 500.0]])
    assert organisations_within(orgs, res, 300.0).tolist() == [True, True, False, False]
    assert organisations_within(orgs, res, 707.2).tolist() == [True, True, False, True]


def test_halo_refuses_what_it_cannot_walk(grid):
    net, area, n, step = grid
    res = L.lattice_residents(np.random.default_rng(0), n, step, m=5)
    spec = WalkSpec(minutes=(5,), speed_kmh=4.8, mode="network")
    with pytest.raises(ValidationError, match="network"):
        halo_walks(res, L.orgs_at([0]), area, spec=spec, network=None)
    with pytest.raises(ValidationError, match="no organisations"):
        halo_walks(res, L.orgs_at([0]).iloc[:0], area, spec=spec, network=net)
    with pytest.raises(ValidationError, match="detour"):
        halo_walks(res, L.orgs_at([0]), area, spec=WalkSpec((5,), 4.8, "crow_flies"))


def test_aggregate_equals_coverage_tables(grid):
    net, area, n, step = grid
    rng = np.random.default_rng(3)
    res = L.lattice_residents(rng, n, step, m=200)
    orgs = L.random_points(rng, 4, n, step)
    one = cnmap.coverage(orgs, area, residents=res, network=net, minutes=[5, 10])
    frame = pd.DataFrame(one.residents.drop(columns="geometry"))
    mine = aggregate(frame, C.LSOA_CODE, one.thresholds)
    _same(
        mine.reset_index(),
        one.lsoas.set_index(C.LSOA_CODE)[mine.columns].loc[mine.index].reset_index(),
    )


# ---------------------------------------------------------------------------------------------
# the halo on Birmingham (real network, real libraries and warm spaces)


@pytest.fixture(scope="module")
def birmingham(shared_data):
    from cnmap.residents import residential_points

    area = cnmap.load_area("E08000025", population="census2021")
    libs = cnmap.read_organisations(
        shared_data / "birmingham/services/birmingham_libraries_ACE2022-12_geocoded_cpo2018.csv",
        area=area,
        name_col="Library name",
        easting_col="cpo_easting",
        northing_col="cpo_northing",
        keep_outside_m=5000,
    ).organisations
    warm = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    ).organisations
    orgs = gpd.GeoDataFrame(
        pd.concat(
            [
                libs[["name", "geometry"]].assign(type="library"),
                warm[["name", "geometry"]].assign(type="warm space"),
            ],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=C.BNG,
    )
    orgs["org_id"] = [f"o{i}" for i in range(len(orgs))]
    # pieces: the wards in four strips from west to east
    w = area.wards.assign(x=area.wards.geometry.centroid.x)
    strip = pd.qcut(w["x"], 4, labels=False).to_numpy()
    strips = dict(zip(w[C.WARD_CODE], strip, strict=True))
    return area, orgs, strips, residential_points


def _birmingham_partition(birmingham, spec, net):
    area, orgs, strips, residential_points = birmingham
    res = residential_points(
        area, method="postcodes", edge_geometries=None if net is None else net.edge_geometry
    )
    one = cnmap.coverage(orgs, area, residents=res, network=net, **spec.coverage_kwargs())
    groups = res[C.WARD_CODE].map(strips).to_numpy()
    assert len(np.unique(groups)) == 4
    return _check_partition(one, res, groups, orgs, area, spec, net)


@pytest.mark.slow
def test_birmingham_in_pieces_equals_one_run_straight_line(birmingham):
    spec = WalkSpec(minutes=(5, 15), speed_kmh=4.8, mode="crow_flies", detour_factor=1.4)
    passes = _birmingham_partition(birmingham, spec, None)
    # libraries are far: the first radius is beyond the walk limit, and enough
    assert all(len(p) == 1 and p[0].radius_m > spec.walk_limit_m for p in passes)


@pytest.mark.slow
def test_birmingham_in_pieces_equals_one_run_on_the_street_network(birmingham, shared_data):
    from cnmap.network import read_walk_network

    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    spec = WalkSpec(minutes=(5, 15), speed_kmh=4.8, mode="network")
    passes = _birmingham_partition(birmingham, spec, net)
    assert all(p[0].network_nodes < net.n_nodes for p in passes)  # a real cut of the network


# ---------------------------------------------------------------------------------------------
# configuration


def test_the_england_config_reads(shared_data):
    cfg = read_national_config(CONFIG)
    assert cfg.districts is None and cfg.worst_maps == 10
    assert cfg.params.minutes == (15,) and cfg.params.detour_factor == 1.4
    assert cfg.params.networks == "at_hand" and cfg.params.population == "census2021"
    assert cfg.organisations[0].path.is_file()


def _doc(**national):
    return {
        "national": national,
        "organisations": [{"path": str(CONFIG)}],
        "coverage": {"detour_factor": 1.3},
    }


def test_config_errors_are_one_line():
    with pytest.raises(ValidationError, match="unknown") as e:
        read_national_config(_doc(wokers=2))
    assert "workers" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValidationError, match="networks"):
        read_national_config(_doc(networks="osm"))
    with pytest.raises(ValidationError, match="detour_factor"):
        read_national_config({"organisations": [{"path": str(CONFIG)}]})
    with pytest.raises(ValidationError, match="area"):
        read_national_config({**_doc(), "area": {"lad_code": "E06000017"}})
    with pytest.raises(ValidationError, match="districts"):
        read_national_config(_doc(districts=[]))


def test_straight_line_mode_means_no_networks():
    doc = _doc(networks="build", districts=["Rutland"])
    doc["coverage"]["mode"] = "crow_flies"
    cfg = read_national_config(doc)
    assert cfg.params.networks == "none" and cfg.districts == ("Rutland",)


# ---------------------------------------------------------------------------------------------
# the national path: Rutland and neighbours


@pytest.fixture(scope="module")
def small_config(shared_data, tmp_path_factory):
    """The England config on the libraries of the LE, NG, PE and NN postcode areas."""
    tmp = tmp_path_factory.mktemp("national")
    libs = pd.read_csv(
        shared_data / "england/services/england_library_postcodes_ACE_2022-12.csv",
        dtype=str,
        encoding="utf-8-sig",
    )
    area = libs["Postcode"].str.extract(r"^([A-Z]+)\d", expand=False)
    libs[area.isin(["LE", "NG", "PE", "NN"])].to_csv(tmp / "libraries.csv", index=False)
    doc = {
        "national": {"districts": RUTLAND_AND_NEIGHBOURS, "networks": "at_hand", "worst_maps": 1},
        "organisations": [
            {
                "path": str(tmp / "libraries.csv"),
                "label": "Libraries {{7*7}}",
                "name_col": "Library name",
                "postcode_col": "Postcode",
            }
        ],
        "coverage": {"minutes": [10, 15], "detour_factor": 1.4},
        "output": {"dir": str(tmp / "out"), "self_contained": True},
    }
    return doc, tmp


@pytest.mark.slow
def test_organisations_placed_by_the_cut_lookup_as_by_whole_areas(small_config, shared_data):
    """The postcode lookup cut to the postcodes the file gives places every library where
    the whole postcode areas' lookup does (same points, same rejections)."""
    from cnmap.io import read_organisations
    from cnmap.national.inputs import (
        _normalised,
        _postcode_areas,
        codepoint_area,
        postcode_lookup,
        read_national_organisations,
    )

    doc, tmp = small_config
    cfg = read_national_config(doc)
    src = cfg.organisations[0]
    got = read_national_organisations(cfg.organisations)
    libs = pd.read_csv(src.path, dtype=str)
    whole = postcode_lookup(_postcode_areas(libs["Postcode"]))
    table = read_organisations(
        src.path, postcodes=whole, name_col="Library name", postcode_col="Postcode"
    )
    placed = got.organisations
    assert len(placed) == table.n_matched and len(got.rejected) == table.n_rejected
    assert (
        placed.geometry.to_wkb().to_numpy() == table.organisations.geometry.to_wkb().to_numpy()
    ).all()
    keys = _normalised(libs["Postcode"])
    cut = codepoint_area("LE", keys)
    assert len(cut) <= len(keys) and set(cut[C.POSTCODE]) <= keys
    assert len(codepoint_area("LE")) > 20 * len(cut)


def _run(doc, out, **kw):
    kw.setdefault("worst_maps", 0)
    return run_national(
        doc, out, processes=False, n_workers=1, progress=False, dashboard_address=":0", **kw
    )


@pytest.fixture(scope="module")
def first_run(small_config):
    doc, tmp = small_config
    return _run(doc, tmp / "out", worst_maps=1)


@pytest.mark.slow
def test_national_tables_hold_the_census_population(first_run, small_config):
    r = first_run
    assert r.complete and r.computed == tuple(RUTLAND_AND_NEIGHBOURS) and not r.resumed
    from cnmap.national.inputs import input_population

    census = input_population(RUTLAND_AND_NEIGHBOURS)
    assert census.loc["E06000017", "population_input"] == 41_056  # PROVENANCE.md
    assert r.population_input == census["population_input"].sum()
    assert r.population_output == pytest.approx(r.population_input, abs=0.01)
    assert len(r.lads) == 2 and (r.lads["status"] == "ok").all()
    assert len(r.lsoas) == census["n_lsoas_input"].sum() == r.lsoas[C.LSOA_CODE].nunique()
    assert r.lsoas["population"].sum() == pytest.approx(r.population_input, abs=0.01)
    assert r.wards["population"].sum() == pytest.approx(r.population_input, abs=0.01)
    assert list(r.deciles["imd_decile"]) == list(range(1, 11))
    assert r.deciles["population"].sum() == pytest.approx(r.population_input, abs=0.01)
    assert set(r.lads["mode"]) == {"crow_flies"}  # no network at hand for these two
    assert (r.lads["halo_radius_m"] >= 1200).all()
    # the shares are population-weighted sums of the LSOAs'
    lsoa = r.lsoas.groupby(C.LAD_CODE)["pop_covered_15min"].sum()
    got = r.lads.set_index(C.LAD_CODE)["pop_covered_15min"]
    assert np.allclose(lsoa.loc[got.index], got, rtol=1e-12)
    assert 0 < r.share_covered(15) < 1 and r.share_covered(10) <= r.share_covered(15)


@pytest.mark.slow
def test_national_files_and_maps(first_run):
    r = first_run
    lads = pd.read_csv(r.files["lads"])
    assert len(lads) == 2 and "share_covered_15min" in lads and "outline_wkt" not in lads
    assert len(pd.read_csv(r.files["lsoas"])) == len(r.lsoas)
    summary = json.loads(r.files["summary"].read_text())
    assert summary["population_output"] == pytest.approx(summary["population_input"], abs=0.01)
    page = r.files["map"].read_text(encoding="utf-8")
    assert "Rutland" in page and "Melton" in page
    for mark in ("{{", "{%", "{#"):
        assert mark not in page  # the label "Libraries {{7*7}}" is inert
    assert "7*7" in page  # the label is shown (escaped), not evaluated
    assert "Open Government Licence" in page and "Royal Mail" in page  # OGL, Code-Point
    worst = r.lads.sort_values("share_covered_15min").iloc[0]
    assert worst["map"].endswith(f"{worst[C.LAD_CODE]}.html") and Path(worst["map"]).is_file()
    assert (r.lads["map"] != "").sum() == 1


@pytest.mark.slow
def test_resume_computes_nothing_for_finished_districts(first_run, small_config, monkeypatch):
    doc, tmp = small_config
    import cnmap.national.district as D

    def boom(*a, **k):
        raise AssertionError("a finished district was computed again")

    monkeypatch.setattr(D, "compute_district", boom)
    again = _run(doc, tmp / "out")
    assert again.computed == () and again.resumed == tuple(RUTLAND_AND_NEIGHBOURS)
    assert again.key == first_run.key and again.complete
    _same(again.lsoas, first_run.lsoas)
    _same(again.deciles, first_run.deciles)


@pytest.mark.slow
def test_a_changed_parameter_reuses_nothing(first_run, small_config):
    doc, tmp = small_config
    changed = {**doc, "coverage": {**doc["coverage"], "detour_factor": 1.3}}
    r = _run(changed, tmp / "out", districts=["E06000017"])
    assert r.key != first_run.key and r.computed == ("E06000017",) and not r.resumed
    before = first_run.lads.set_index(C.LAD_CODE).loc["E06000017", "share_covered_15min"]
    assert r.lads.loc[0, "share_covered_15min"] > before  # a shorter detour reaches more


@pytest.mark.slow
def test_switching_networks_on_reuses_the_districts_without_one(first_run, small_config):
    doc, tmp = small_config
    off = {**doc, "national": {**doc["national"], "networks": "none"}}
    r = _run(off, tmp / "out")
    assert r.key == first_run.key and r.computed == () and r.resumed == first_run.computed
    assert set(r.lads["network_tag"]) == {"line"}


def test_network_tag_names_the_network_a_district_walks_on(shared_data):
    from cnmap.national import NationalParams
    from cnmap.national.district import network_tag

    at_hand = NationalParams(networks="at_hand")
    assert network_tag("E08000025", at_hand).startswith("net-")  # the mirror's Birmingham
    assert network_tag("E06000017", at_hand) == "line"  # Rutland: an extract, no network
    assert network_tag("E08000025", NationalParams(networks="none")) == "line"
    assert network_tag("E06000017", NationalParams(networks="build")) == "build"


@pytest.mark.slow
def test_a_failing_district_is_reported_and_the_others_go_on(small_config, monkeypatch):
    doc, tmp = small_config
    import cnmap.national.district as D

    real = D._load_area

    def flaky(lad, params):
        if lad == "E07000133":
            raise RuntimeError("disk on fire")
        return real(lad, params)

    monkeypatch.setattr(D, "_load_area", flaky)
    r = _run(doc, tmp / "failing", districts=["E06000017", "E07000133"])
    assert r.failed == ("E07000133",) and r.computed == ("E06000017",) and not r.complete
    row = r.lads.set_index(C.LAD_CODE).loc["E07000133"]
    assert row["status"] == "failed" and "disk on fire" in row["error"]
    assert np.isnan(row["share_covered_15min"])
    assert set(r.lsoas[C.LAD_CODE]) == {"E06000017"}
    assert r.population_output == pytest.approx(41_056, abs=0.01)
    # the failure is not kept: once repaired, the next run computes it (and only it)
    monkeypatch.setattr(D, "_load_area", real)
    again = _run(doc, tmp / "failing", districts=["E06000017", "E07000133"])
    assert again.computed == ("E07000133",) and again.resumed == ("E06000017",)
    assert again.complete


@pytest.mark.browser
@pytest.mark.slow
def test_the_national_map_draws_every_district_in_a_browser(first_run):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = b.new_page(viewport={"width": 900, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(
            "**/*", lambda r: r.abort() if r.request.url.startswith("http") else r.continue_()
        )  # self-contained: no network needed (tiles aside)
        page.goto(first_run.files["map"].as_uri())
        page.wait_for_timeout(1000)
        assert errors == []
        paths = page.query_selector_all(".leaflet-overlay-pane path")
        assert len(paths) == len(first_run.lads)
        tips = page.evaluate("""() => {
            const m = window[document.querySelector('.folium-map').id];
            const out = [];
            m.eachLayer(l => {
                if (l.feature && l.getTooltip()) {
                    l.openTooltip();
                    out.push(l.getTooltip().getElement().innerText);
                    l.closeTooltip();
                }
            });
            return out;
        }""")
        assert len(tips) == len(first_run.lads)
        assert any("Rutland" in t and "E06000017" in t for t in tips)
        assert any("Melton" in t for t in tips)
        boxes = page.evaluate(
            "Array.from(document.querySelectorAll('.cnmap-national-box'))"
            ".map(e => e.innerText).join(' | ')"
        )
        assert "80 % or more" in boxes and "not computed" in boxes
        assert "walk of: Libraries {{7*7}}" in boxes  # the title, shown as written
        attribution = page.evaluate(
            "document.querySelector('.leaflet-control-attribution').innerText"
        )
        assert "Open Government Licence" in attribution and "Libraries {{7*7}}" in attribution
        b.close()


def _double(x: str) -> str:
    return x * 2


@pytest.mark.slow
def test_the_district_bar_shows_only_on_a_terminal_or_when_asked(capsys, monkeypatch):
    import io
    import sys

    from cnmap.national.engine import dask_client, run_tasks

    def run(progress):
        with dask_client(None, n_workers=1, processes=False, dashboard_address=":0") as client:
            return dict(
                run_tasks(
                    client, _double, ["a", "b"], on_error=lambda i, e: None, progress=progress
                )
            )

    capsys.readouterr()
    assert run(None) == {"a": "aa", "b": "bb"}  # stderr is not a terminal here: no bar
    assert "districts" not in capsys.readouterr().err
    assert run(True) == {"a": "aa", "b": "bb"}
    assert "districts" in capsys.readouterr().err
    run(False)
    assert "districts" not in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run(None)
    assert "districts" in terminal.getvalue()

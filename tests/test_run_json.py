"""cnmap.provenance: run.json makes a run reproducible: versions, time stamp, SHA-256 of every
input file (organisations, network, data), every parameter including the reading options."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import cnmap
from cnmap.config import OrganisationSource
from cnmap.pipeline import RunConfig
from cnmap.provenance import (
    KEY_PACKAGES,
    organisation_read_options,
    package_versions,
    run_record,
    sha256_file,
    write_run_json,
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def run_inputs(tmp_path):
    orgs_a = tmp_path / "in" / "warm.csv"
    orgs_a.parent.mkdir()
    orgs_a.write_text("name,postcode\nHall,B1 1AA\n", encoding="utf-8")
    orgs_b = tmp_path / "in" / "food.csv"
    orgs_b.write_bytes(b"name,lat,lon\nPantry,52.48,-1.9\n" * 50)
    net = tmp_path / "in" / "network.gpkg"
    net.write_bytes(bytes(range(256)) * 4000)  # ~1 MB: hashed in blocks
    out = tmp_path / "out"
    config = RunConfig(
        lad_code="E08000025",
        organisations=(
            OrganisationSource(path=orgs_a, label="Warm spaces", type="warm_space"),
            OrganisationSource(
                path=orgs_b,
                label="Food banks",
                type="food_bank",
                options={"keep_outside_m": 2000.0},
            ),
        ),
        out_dir=out,
        network_path=net,
        network_dataset=None,
        minutes=(10, 15),
        speed_kmh=4.2,
        thin={"max_decile": 2},
        source=tmp_path / "in" / "run.toml",
    )
    result = SimpleNamespace(
        params={
            "mode": "network",
            "minutes": [10, 15],
            "speed_kmh": 4.2,
            "metres": [700.0, 1050.0],
            "max_snap_m": 500.0,
            "residents": "postcodes",
            "persona": None,
            "network": {"source": str(net)},
            "network_name": "network.gpkg",
            "area": {"lsoa_vintage": 2021, "iod": 2025},
        },
        sources=pd.DataFrame({"id": ["made_up"], "sha256": ["0" * 64], "read_from": ["nowhere"]}),
    )
    return config, result, {"orgs": [orgs_a, orgs_b], "net": net, "out": out}


def test_sha256_of_every_input_file(run_inputs):
    config, result, files = run_inputs
    rec = run_record(config, result)
    by_name = {i["name"]: i for i in rec["inputs"]}
    for p in [*files["orgs"], files["net"]]:
        got = by_name[p.name]
        assert got["sha256"] == sha(p) == sha256_file(p)
        assert got["bytes"] == p.stat().st_size and got["path"] == str(p.resolve())
    assert [i["role"] for i in rec["inputs"]][:3] == ["organisations", "organisations", "network"]
    assert by_name["warm.csv"]["label"] == "Warm spaces"
    # a data file the cache does not hold is listed with the checksum it should have
    data = [i for i in rec["inputs"] if i["role"] == "data"]
    assert data == [
        {
            "role": "data",
            "label": "made_up",
            "path": "",
            "name": "",
            "sha256": "",
            "bytes": -1,
            "expected_sha256": "0" * 64,
            "source": "nowhere",
            "verified": None,
        }
    ]


def test_every_parameter_including_reading_options(run_inputs):
    config, result, _ = run_inputs
    p = run_record(config, result)["parameters"]
    food = p["organisations"][1]
    assert food["label"] == "Food banks" and food["file"] == "food.csv"
    assert food["read_options"]["keep_outside_m"] == 2000.0  # the configuration's value
    warm = p["organisations"][0]["read_options"]
    assert warm["keep_outside_m"] == 0.0 and warm["duplicate_within_m"] == 50.0  # defaults
    assert warm["coords"] == "auto" and "sheet" in warm and "encoding" in warm
    assert p["organisations"][0]["type"] == "warm_space"
    assert p["walking"]["speed_kmh"] == 4.2 and p["walking"]["minutes"] == [10, 15]
    assert p["walking"]["metres"] == [700.0, 1050.0] and p["walking"]["max_snap_m"] == 500.0
    assert p["area"]["lad_code"] == "E08000025" and p["thin"] == {"max_decile": 2}


def test_versions_and_time_stamp(run_inputs):
    config, result, _ = run_inputs
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rec = run_record(config, result)
    assert rec["cnmap_version"] == cnmap.__version__ == rec["software"]["cnmap"]
    created = dt.datetime.fromisoformat(rec["created"].replace("Z", "+00:00"))
    assert created.tzinfo is not None and before <= created <= dt.datetime.now(dt.UTC)
    pk = rec["software"]["packages"]
    assert set(pk) == set(KEY_PACKAGES)
    assert pk["numpy"] == metadata.version("numpy") and pk["pandas"] == metadata.version("pandas")
    assert rec["software"]["libraries"]["gdal"]  # pyogrio's GDAL
    assert package_versions(["surely-not-installed-pkg"]) == {"surely-not-installed-pkg": None}
    assert rec["reproduce"] == "cnmap run run.toml"


def test_write_run_json_with_outputs_relative(run_inputs):
    config, result, files = run_inputs
    out = files["out"]
    paths = {"tables": {"csv": [out / "tables" / "lsoas.csv"]}, "map": out / "x_map.html"}
    p = write_run_json(
        out / "run.json",
        config,
        result,
        thin=SimpleNamespace(params={"rule": "r"}),
        steps=[{"step": "coverage", "seconds": 1.5}],
        outputs=paths,
    )
    rec = json.loads(p.read_text(encoding="utf-8"))
    assert rec["paths"] == {"tables": {"csv": ["tables/lsoas.csv"]}, "map": "x_map.html"}
    assert rec["steps"] == [{"step": "coverage", "seconds": 1.5}]
    assert rec["thin_params"] == {"rule": "r"} and rec["parameters"]["thin"] == {"rule": "r"}
    assert rec["params"]["minutes"] == [10, 15] and rec["params"]["speed_kmh"] == 4.2
    assert rec["config"]["lad_code"] == "E08000025"


def test_reading_options_of_a_prepared_list():
    src = OrganisationSource(
        path=Path("/x/list.csv"),
        label="L",
        type_col="kind",
        columns=("a", "b"),
        keep={"kind": ("x",)},
        area_postcodes_only=True,
    )
    got = organisation_read_options(src)
    assert got["file"] == "list.csv" and got["columns"] == ["a", "b"]
    assert got["keep"] == {"kind": ["x"]} and got["area_postcodes_only"] is True
    assert got["read_options"]["type_col"] == "kind"


def test_data_files_found_in_the_cache_are_verified(shared_data, run_inputs):
    """A catalogued file fetched into the cache is hashed there and checked against the
    checksum of the mirror entry it came from."""
    from cnmap.data.fetch import fetch_record

    config, result, _ = run_inputs
    rec = fetch_record("wards", lad_code="E08000025")
    result.sources = pd.DataFrame(
        {"id": ["wards"], "sha256": [rec.sha256], "read_from": [rec.read_from]}
    )
    data = [i for i in run_record(config, result)["inputs"] if i["role"] == "data"]
    assert len(data) == 1 and data[0]["label"] == "wards"
    assert data[0]["sha256"] == sha(Path(rec.path)) == rec.sha256
    assert data[0]["verified"] is True and data[0]["name"] == Path(rec.path).name


def test_catalogue_network_is_verified(shared_data, run_inputs):
    """The walk network read from the catalogue is hashed and checked against the mirror."""
    import dataclasses

    from cnmap.data.fetch import fetch_record

    config, result, _ = run_inputs
    rec = fetch_record("osm_walk_network", lad_code="E08000025")
    config = dataclasses.replace(config, network_path=None, network_dataset="osm_walk_network")
    result.params = {
        **result.params,
        "network": {"source": str(rec.path)},
        "network_name": "catalogue dataset osm_walk_network",
    }
    net = [i for i in run_record(config, result)["inputs"] if i["role"] == "network"]
    assert len(net) == 1 and net[0]["sha256"] == rec.sha256 == sha256_file(rec.path)
    assert net[0]["verified"] is True
    assert net[0]["source"].startswith(f"mirror:{rec.mirror_path}")  # "(cached)" once copied

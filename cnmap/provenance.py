"""``run.json``: what is needed to repeat a run and check that it was repeated.

- **software**: cnmap's version and those of the packages that change results or files
  (:data:`KEY_PACKAGES`, read with :mod:`importlib.metadata`), Python, GDAL, PROJ and GEOS;
- **created**: the UTC time stamp of the run;
- **inputs**: every file read, with its SHA-256 and size: the organisation lists, the walk
  network and each data file of the area (boundaries, lookups, IoD, postcodes) as read from
  the data cache (with the checksum the catalogue or mirror expects, when known);
- **parameters**: every setting, including how each organisation list was read (all the
  options of :func:`cnmap.read_organisations`, defaults included, e.g. ``keep_outside_m``
  and ``duplicate_within_m``), the walking speed and time limits and the thin rule;
- the configuration as given, the coverage parameters, the run's steps and the files written
  (relative to the output folder).

:func:`run_record` builds the record; :func:`write_run_json` writes it. Paths of input files
are kept (they say where the run read them); everything else is free of machine paths.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import json
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "KEY_PACKAGES",
    "InputFile",
    "sha256_file",
    "package_versions",
    "software",
    "organisation_read_options",
    "input_files",
    "run_parameters",
    "run_record",
    "write_run_json",
]

#: Packages whose versions change results or output files.
KEY_PACKAGES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "scipy",
    "numba",
    "networkx",
    "osmnx",
    "pyrosm",
    "pyarrow",
    "openpyxl",
    "matplotlib",
    "mapclassify",
    "folium",
    "branca",
    "jinja2",
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One file a run read.

    Attributes
    ----------
    role
        ``"organisations"``, ``"network"`` or ``"data"``.
    label
        The organisation list's label, or the dataset id.
    path
        Where the run read it (absolute), or "" when the file was not found.
    name
        Its file name.
    sha256, bytes
        Checksum and size of the file as it is now ("" and -1 when not found).
    expected_sha256
        The checksum the data catalogue or mirror gives for it ("" when none).
    source
        Where it came from, in words (``mirror:birmingham/wards.geojson``...).
    """

    role: str
    label: str
    path: str
    name: str
    sha256: str
    bytes: int
    expected_sha256: str = ""
    source: str = ""

    @property
    def verified(self) -> bool | None:
        """True when the file's checksum equals the expected one (None without one)."""
        if not self.expected_sha256 or not self.sha256:
            return None
        return self.sha256 == self.expected_sha256


def sha256_file(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _library_versions() -> dict[str, str | None]:
    """GDAL (through pyogrio), PROJ and GEOS, when their Python bindings are installed."""
    out: dict[str, str | None] = {"gdal": None, "proj": None, "geos": None}
    try:
        import pyogrio

        out["gdal"] = str(pyogrio.__gdal_version_string__)
    except (ImportError, AttributeError):
        pass
    try:
        import pyproj

        out["proj"] = str(pyproj.proj_version_str)
    except (ImportError, AttributeError):
        pass
    try:
        import shapely

        out["geos"] = str(shapely.geos_version_string)
    except (ImportError, AttributeError):
        pass
    return out


def software() -> dict[str, Any]:
    """cnmap's version, Python, the platform, the key packages and GDAL/PROJ/GEOS."""
    from cnmap import __version__

    return {
        "cnmap": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "libraries": _library_versions(),
    }


def _reader_defaults() -> dict[str, Any]:
    """The keyword options of :func:`cnmap.read_organisations` and their defaults."""
    from cnmap.io import read_organisations

    skip = {"area", "postcodes"}
    return {
        name: p.default
        for name, p in inspect.signature(read_organisations).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and name not in skip
        and p.default is not inspect.Parameter.empty
    }


def organisation_read_options(source: Any) -> dict[str, Any]:
    """How one organisations list was read: every option of :func:`cnmap.read_organisations`
    (defaults included) with the configuration's values over them, and the list's own
    settings (type, type column, header-less column names, rows kept)."""
    opts = {**_reader_defaults(), **dict(getattr(source, "options", {}) or {})}
    if getattr(source, "type_col", None):
        opts["type_col"] = source.type_col
    cols = getattr(source, "columns", None)
    return {
        "label": str(getattr(source, "label", "")),
        "file": Path(str(getattr(source, "path", ""))).name,
        "type": getattr(source, "type", None),
        "read_options": opts,
        "columns": list(cols) if cols is not None else None,
        "keep": {k: list(v) for k, v in dict(getattr(source, "keep", {}) or {}).items()},
        "area_postcodes_only": bool(getattr(source, "area_postcodes_only", False)),
    }


def _file(
    role: str, label: str, path: str | Path | None, *, expected: str = "", source: str = ""
) -> InputFile:
    p = Path(str(path)) if path else None
    if p is None or not p.is_file():
        return InputFile(
            role,
            label,
            "" if p is None else str(p),
            "" if p is None else p.name,
            "",
            -1,
            expected,
            source,
        )
    return InputFile(
        role, label, str(p.resolve()), p.name, sha256_file(p), p.stat().st_size, expected, source
    )


def _network_paths(config: Any, params: Mapping[str, Any]) -> list[str]:
    """The walk network file the run read (the result's ``network.source``, else the
    configured path), and the OpenStreetMap extract a district network was built from."""
    net = params.get("network")
    found = [str(net["source"])] if isinstance(net, Mapping) and net.get("source") else []
    path = getattr(config, "network_path", None)
    if not found and path is not None:
        found.append(str(path))
    extract = getattr(config, "network_source", None)
    if getattr(config, "network_build", None) and extract not in (None, "auto", "overpass"):
        found.append(str(extract))
    return list(dict.fromkeys(found))


def _records(dataset: str) -> list[Any]:
    """The cached copies of a catalogued dataset ([] for an unknown id or unreadable cache)."""
    try:
        from cnmap.data.fetch import cached_records

        return list(cached_records(dataset))
    except Exception:  # noqa: BLE001 - provenance never fails a run
        return []


def _network_file(config: Any, name: str, path: str) -> InputFile:
    """The network file, with the catalogue's checksum when it is a cached catalogue copy."""
    dataset = getattr(config, "network_dataset", None) or "osm_walk_network"
    target = Path(path).resolve() if Path(path).exists() else None
    for rec in _records(dataset) if target is not None else []:
        if Path(rec.path).resolve() == target:
            return _file("network", name, path, expected=rec.sha256, source=rec.read_from)
    return _file("network", name, path)


def _cached_path(dataset: str, sha256: str) -> Path | None:
    """The cached copy of a catalogued dataset with that checksum (None when none)."""
    for rec in _records(dataset):
        if rec.sha256 == sha256 and Path(rec.path).is_file():
            return Path(rec.path)
    return None


def _data_files(sources: Any) -> list[InputFile]:
    """The area's data files (the result's ``sources`` with ``id`` and ``sha256``)."""
    if sources is None or not len(sources) or "id" not in sources.columns:
        return []
    out = []
    for _, row in sources.iterrows():
        expected = str(row.get("sha256") or "") if "sha256" in sources.columns else ""
        expected = "" if expected == "nan" else expected
        ds = str(row["id"])
        path = _cached_path(ds, expected) if expected else None
        out.append(
            _file("data", ds, path, expected=expected, source=str(row.get("read_from", "") or ""))
        )
    return out


def input_files(config: Any, result: Any) -> list[InputFile]:
    """Every file the run read, hashed now: the organisation lists, the walk network and the
    area's data files (each as cached by :func:`cnmap.data.fetch`, with the checksum the
    catalogue expects)."""
    files = [
        _file("organisations", str(s.label), s.path) for s in getattr(config, "organisations", ())
    ]
    params = dict(getattr(result, "params", {}) or {})
    name = str(params.get("network_name") or "walk network")
    files += [_network_file(config, name, p) for p in _network_paths(config, params)]
    files += _data_files(getattr(result, "sources", None))
    return files


def run_parameters(config: Any, result: Any, thin: Any = None) -> dict[str, Any]:
    """Every parameter of the run in one place: area, organisation lists (with all reading
    options), walking (speed, persona, time limits in minutes and metres, residents, snapping
    limit, mode, detour factor), network and the thin rule."""
    p = dict(getattr(result, "params", {}) or {})
    cfg = config.to_dict() if hasattr(config, "to_dict") else {}
    return {
        "area": {
            k: cfg.get(k) for k in ("lad_code", "lsoa_vintage", "iod", "population", "postcodes")
        },
        "organisations": [
            organisation_read_options(s) for s in getattr(config, "organisations", ())
        ],
        "walking": {
            "speed_kmh": p.get("speed_kmh", cfg.get("speed_kmh")),
            "persona": p.get("persona", cfg.get("persona")),
            "minutes": p.get("minutes", cfg.get("minutes")),
            "metres": p.get("metres"),
            "mode": p.get("mode", cfg.get("mode")),
            "residents": p.get("residents", cfg.get("residents")),
            "max_snap_m": p.get("max_snap_m", cfg.get("max_snap_m")),
            "detour_factor": p.get("detour_factor", cfg.get("detour_factor")),
            "type_col": p.get("type_col", cfg.get("type_col")),
        },
        "network": {
            k: cfg.get(k)
            for k in ("network_dataset", "network_build", "network_source", "network_buffer_m")
        }
        | {"name": p.get("network_name")},
        "thin": dict(getattr(thin, "params", {}) or {})
        if thin is not None
        else dict(cfg.get("thin") or {}),
    }


def _relative(paths: Any, base: Path | None) -> Any:
    """Output paths relative to the output folder (nested lists and dicts kept)."""
    if isinstance(paths, Mapping):
        return {str(k): _relative(v, base) for k, v in paths.items()}
    if isinstance(paths, (list, tuple)):
        return [_relative(v, base) for v in paths]
    if isinstance(paths, Path) or isinstance(paths, str) and "/" in paths:
        p = Path(paths)
        if base is not None:
            try:
                return p.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                return p.name
        return p.name
    return paths


def run_record(
    config: Any,
    result: Any,
    *,
    thin: Any = None,
    steps: Sequence[Mapping[str, Any]] = (),
    outputs: Any = None,
    created: _dt.datetime | None = None,
) -> dict[str, Any]:
    """The content of ``run.json`` (see the module description).

    Parameters
    ----------
    config
        The run's :class:`cnmap.pipeline.RunConfig`.
    result
        The coverage result (its ``params`` and ``sources``).
    thin
        The thin-infrastructure result, if any.
    steps
        The run's steps and their seconds.
    outputs
        The files written (any nesting of dicts and lists of paths): recorded relative to
        ``config.out_dir``.
    created
        The time stamp (default: now, UTC).
    """
    when = (created or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC).replace(microsecond=0)
    params = dict(getattr(result, "params", {}) or {})
    inputs = input_files(config, result)
    base = getattr(config, "out_dir", None)
    soft = software()
    return {
        "cnmap_version": soft["cnmap"],
        "created": when.isoformat().replace("+00:00", "Z"),
        "software": soft,
        "reproduce": f"cnmap run {Path(str(getattr(config, 'source', '') or 'CONFIG')).name}",
        "inputs": [asdict(f) | {"verified": f.verified} for f in inputs],
        "parameters": run_parameters(config, result, thin),
        "config": config.to_dict() if hasattr(config, "to_dict") else {},
        "params": params,
        "area": params.get("area", {}),
        "snap_coverage": params.get("snap_coverage"),
        "thin_params": dict(getattr(thin, "params", {}) or {}) if thin is not None else {},
        "steps": [dict(s) for s in steps],
        "paths": _relative(outputs, None if base is None else Path(base)),
    }


def write_run_json(
    path: str | Path,
    config: Any,
    result: Any,
    *,
    thin: Any = None,
    steps: Sequence[Mapping[str, Any]] = (),
    outputs: Any = None,
) -> Path:
    """Write :func:`run_record` as indented JSON (UTF-8) and return the path."""
    record = run_record(config, result, thin=thin, steps=steps, outputs=outputs)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(
        json.dumps(record, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return p

"""cnmap: where community organisations reach people, and where they don't.

Main entry points (imported lazily so that ``import cnmap`` stays fast, except
:func:`cnmap.coverage`, bound at import: the name ``cnmap.coverage`` is the function, and the
module is ``sys.modules["cnmap.coverage"]``, or ``from cnmap.coverage import ...``):

- :func:`cnmap.load_area` — official wards, LSOAs, IoD and population for an English LAD;
- :func:`cnmap.read_iod` — read an IoD File 7 table (2019 or 2025) into short column names;
- :func:`cnmap.read_organisations` — organisations from CSV/XLSX/GeoJSON/GPKG, geocoded;
- :func:`cnmap.ward_profiles` — MHCLG deprivation summary measures per ward;
- :func:`cnmap.coverage` — 15-minute walking coverage on the street network;
- :func:`cnmap.thin_areas`, :func:`cnmap.compare`, :func:`cnmap.suggest_sites`,
  :func:`cnmap.maximal_coverage`;
- :func:`cnmap.report_layers` (need layers: Census 2021 groups, digital exclusion risk) and
  :func:`cnmap.group_coverage` — who is served, group by group;
- :func:`cnmap.compare_files` — ``cnmap compare``'s work: two scenario files in, tables out;
- :mod:`cnmap.national` — all of England at once on Dask (``cnmap run
  configs/england_libraries.toml``; ``cnmap.national.run_national``).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_EXPORTS = {
    "Area": "cnmap.area",
    "load_area": "cnmap.data",
    "load_postcodes": "cnmap.data",
    "load_codepoint": "cnmap.data",
    "resolve_lad": "cnmap.data",
    "missing_datasets": "cnmap.data",
    "summarise": "cnmap.deprivation",
    "read_iod": "cnmap.iod",
    "read_organisations": "cnmap.io",
    "OrganisationTable": "cnmap.io",
    "CoverageResult": "cnmap.coverage",
    "ward_profiles": "cnmap.deprivation",
    "thin_areas": "cnmap.thin",
    "cold_spots": "cnmap.hotspots",
    "write_tables": "cnmap.export",
    "export_coverage": "cnmap.export",
    "Scenario": "cnmap.scenarios",
    "compare": "cnmap.scenarios",
    "suggest_sites": "cnmap.scenarios",
    "maximal_coverage": "cnmap.scenarios",
    "group_coverage": "cnmap.groups",
    "compare_group_coverage": "cnmap.groups",
    "NeedLayer": "cnmap.layers",
    "MissingLSOAError": "cnmap.layers",
    "report_layers": "cnmap.layers",
    "join_layers": "cnmap.layers",
    "compare_files": "cnmap.workflows",
    "basket_coverage": "cnmap.basket",
    "coverage_at": "cnmap.hours",
    "open_during": "cnmap.hours",
}

__all__ = ["__version__", "coverage", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        return getattr(module, name)
    if name in {
        "data",
        "deprivation",
        "network",
        "maps",
        "geo",
        "io",
        "iod",
        "errors",
        "settings",
        "columns",
        "thin",
        "scenarios",
        "hotspots",
        "export",
        "residents",
        "pipeline",
        "cli",
        "postcodes",
        "reach",
        "hours",
        "basket",
        "groups",
        "layers",
        "workflows",
        "national",
    }:
        return importlib.import_module(f"cnmap.{name}")
    raise AttributeError(f"module 'cnmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


# Bound at import, after ``__getattr__`` exists: importing the submodule sets the package
# attribute ``coverage`` to the module, and this rebinds it to the function. Later imports of
# ``cnmap.coverage`` find it in ``sys.modules`` and leave the attribute alone.
from cnmap.coverage import coverage  # noqa: E402

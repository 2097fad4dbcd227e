"""Workflows that read inputs and write outputs around the pure analyses (the pipeline layer).

- :func:`compare_files` — the ``cnmap compare A.toml B.toml --out DIR`` command's work: two
  scenario files in, the area and walk network loaded, :func:`cnmap.scenarios.compare`, the
  comparison tables and summary written.

The analyses themselves (:mod:`cnmap.scenarios`, :mod:`cnmap.coverage`...) never touch files;
this module may import them, :mod:`cnmap.pipeline` and :mod:`cnmap.export`, never the reverse.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnmap.errors import ValidationError
from cnmap.scenarios import Comparison, Scenario, compare

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.network import WalkNetwork

__all__ = ["compare_files"]

log = logging.getLogger(__name__)

#: What each comparison table holds (the README sheet of ``comparison.xlsx``).
COMPARISON_TABLES = {
    "totals": "Whole area, one row per time limit: people covered in A and B, gained, "
    "lost, net change, shares, mean walking time and its change",
    "equity": "Concentration indices of coverage over the IMD rank for A and B "
    "(standard, Wagstaff, Erreygers; negative = concentrated among the more "
    "deprived) and coverage of the most and least deprived deciles",
    "deciles": "By IMD decile (1 = most deprived 10% in England): gained, lost, net "
    "change, shares in A and B",
    "wards": "By ward: gained, lost, net change, shares in A and B, walking time change",
    "lsoas": "By LSOA: gained, lost, net change, shares in A and B, walking time change",
}


def _common_lad(a: Scenario, b: Scenario, a_path: Any, b_path: Any) -> str:
    """The one area both scenario files name, after checking they agree on the data."""
    lads = {s.lad_code for s in (a, b) if s.lad_code}
    if not lads:
        raise ValidationError(
            f"neither {a_path} nor {b_path} says which area: add [area] "
            'lad_code = "E08000025" (for example) to the scenario files'
        )
    if len(lads) > 1:
        raise ValidationError(
            f"the scenario files are for different areas {sorted(lads)}; "
            "compare scenarios of one area"
        )
    if (a.lsoa_vintage, a.iod) != (b.lsoa_vintage, b.iod):
        raise ValidationError(
            f"the scenario files use different data (LSOA {a.lsoa_vintage} / "
            f"IoD {a.iod} vs LSOA {b.lsoa_vintage} / IoD {b.iod})"
        )
    if a.network_path and b.network_path and a.network_path != b.network_path:
        raise ValidationError(
            f"the scenario files use different networks ({a.network_path} vs "
            f"{b.network_path}); compare on one network"
        )
    return lads.pop()


def _load_network_for(sc: Scenario, lad_code: str) -> WalkNetwork:
    """The scenario's walk network file, else the catalogue's for the area."""
    from cnmap.network import read_walk_network

    if sc.network_path is not None:
        return read_walk_network(sc.network_path)
    from cnmap.data import fetch

    return read_walk_network(fetch("osm_walk_network", lad_code=lad_code))


def _write_comparison(
    cmp: Comparison,
    a: Scenario,
    b: Scenario,
    lad: str,
    area: Area,
    out: Path,
    formats: Sequence[str],
) -> None:
    """The comparison tables (:func:`cnmap.export.write_tables`) and the summary text."""
    from cnmap.export import write_tables

    out.mkdir(parents=True, exist_ok=True)
    params = {
        "scenario_a": a.to_dict(),
        "scenario_b": b.to_dict(),
        "minutes": list(cmp.thresholds),
        "rank_by": cmp.params["rank_by"],
        "lad_code": lad,
    }
    written = write_tables(
        cmp.tables(),
        out,
        formats=tuple(formats),
        params=params,
        sources=area.sources,
        stem="comparison",
        descriptions=COMPARISON_TABLES,
        title=f"cnmap comparison: {cmp.name_b} against {cmp.name_a}",
        notes=[
            "Gains and losses are counted per residential point and "
            "then summed, so an LSOA can both gain and lose people."
        ],
    )
    log.info("compare_files: wrote %s", written)
    (out / "comparison_summary.txt").write_text(cmp.summary() + "\n", encoding="utf-8")


def compare_files(
    a_path: str | os.PathLike[str],
    b_path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = ("csv", "xlsx", "gpkg"),
) -> Comparison:
    """Compare two scenario files and write the comparison tables (``cnmap compare``).

    The area comes from the files' ``[area]`` (``lad_code`` must agree), the walk network from
    ``[network] path`` or the data catalogue (``osm_walk_network``). Tables are written with
    :func:`cnmap.export.write_tables` (CSV files, ``comparison.xlsx`` with a README sheet,
    ``comparison.gpkg``); ``comparison_summary.txt`` holds :meth:`Comparison.summary`.

    Parameters
    ----------
    a_path, b_path
        Scenario files (TOML or YAML, :meth:`cnmap.scenarios.Scenario.from_file`): A the
        baseline, B the alternative.
    out_dir
        Folder for the outputs (made if needed).
    formats
        Any of ``"csv"``, ``"xlsx"``, ``"gpkg"``.

    Returns
    -------
    Comparison
    """
    from cnmap.data import load_area

    a = Scenario.from_file(a_path)
    b = Scenario.from_file(b_path)
    lad = _common_lad(a, b, a_path, b_path)
    area = load_area(lad, lsoa_vintage=a.lsoa_vintage, iod=a.iod)
    needs_net = any(s.mode == "network" or s.detour_factor is None for s in (a, b))
    net = _load_network_for(a if a.network_path else b, lad) if needs_net else None
    cmp = compare(a, b, area=area, network=net)
    _write_comparison(cmp, a, b, lad, area, Path(out_dir), formats)
    return cmp

"""The national map: England's districts by the share of residents within the walk limit.

One folium page: a district choropleth (five 20 % classes; grey where a district failed),
a tooltip per district (name, code, residents, share covered, mean walk, mode), a legend, a
title and the data attribution. Every text that reaches the page goes through
:func:`cnmap.maps._safe.inert_json` (data in scripts, the ``tojson`` filter of the element
templates, built with :func:`cnmap.maps._templates.inert_template`) or
:func:`cnmap.maps._safe.inert_html` (tooltip, legend and title text): no data brace reaches
a template (docs/security.md, "Text in maps").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import shapely

from cnmap import columns as C
from cnmap import schema as S
from cnmap.maps._safe import inert_html

__all__ = ["national_map", "SHARE_COLOURS", "share_class"]

#: Five 20 % classes of the share covered, low to high, and the colour of "no result".
SHARE_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_RESULT_COLOUR = "#bdbdbd"
_LABELS = ("under 20 %", "20 % to 40 %", "40 % to 60 %", "60 % to 80 %", "80 % or more")


def share_class(share: object) -> int:
    """0-4 for the five 20 % classes, -1 for no result."""
    try:
        v = float(share)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1
    if not math.isfinite(v):
        return -1
    return min(4, max(0, int(v * 5)))


def _elements() -> dict[str, Any]:
    """The national map's element classes (:mod:`cnmap.national._elements`, folium imported on
    first use)."""
    from cnmap.national import _elements as E

    return {"Style": E.Style, "Districts": E.Districts, "Box": E.Box, "Attribution": E.Attribution}


def _fmt(value: object, kind: str) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    return {"int": f"{v:,.0f}", "pct": f"{v:.1%}", "min": f"{v:.1f} min"}[kind]


def _tip(row: pd.Series, share_col: str, minutes: float) -> str:
    rows = [
        ("Code", inert_html(row[C.LAD_CODE])),
        ("Residents", _fmt(row.get("population"), "int")),
        (f"Within {minutes:g} min", _fmt(row.get(share_col), "pct")),
        ("Mean walk to the nearest", _fmt(row.get("mean_walk_min"), "min")),
        (
            "Measured",
            inert_html(
                "street network"
                if row.get("mode") == "network"
                else "straight line x detour factor"
            ),
        ),
    ]
    if row.get("status") != "ok":
        rows = [
            ("Code", inert_html(row[C.LAD_CODE])),
            ("Not computed", inert_html(row.get("error", ""))),
        ]
    body = "".join(f"<tr><th>{inert_html(k)}</th><td>{v}</td></tr>" for k, v in rows)
    name = inert_html(row.get(C.LAD_NAME) or row[C.LAD_CODE])
    return f'<div class="cnmap-national-tip"><b>{name}</b><table>{body}</table></div>'


def _legend(minutes: float) -> str:
    items = [
        f'<i style="background:{c}"></i>{inert_html(lab)}'
        for c, lab in zip(SHARE_COLOURS, _LABELS, strict=True)
    ]
    items.append(f'<i style="background:{NO_RESULT_COLOUR}"></i>{inert_html("not computed")}')
    title = inert_html(f"Residents within {minutes:g} min walk")
    return f"<b>{title}</b><br>" + "<br>".join(items)


def _features(lads: pd.DataFrame) -> tuple[dict[str, Any], list[int]]:
    feats: list[dict[str, Any]] = []
    rows: list[int] = []
    for i, wkt in enumerate(lads["outline_wkt"].tolist()):
        if not isinstance(wkt, str) or not wkt:
            continue
        geom = shapely.geometry.mapping(shapely.from_wkt(wkt))
        feats.append({"type": "Feature", "properties": {"i": len(rows)}, "geometry": geom})
        rows.append(i)
    return {"type": "FeatureCollection", "features": feats}, rows


def national_map(
    lads: pd.DataFrame,
    *,
    minutes: float,
    title: str,
    attribution: Sequence[str],
    tiles: str | None = "OpenStreetMap",
) -> Any:
    """The district choropleth of a national run (a ``folium.Map``).

    Parameters
    ----------
    lads
        The national district table with ``outline_wkt`` (EPSG:4326), ``lad_code``,
        ``lad_name``, ``status``, ``mode``, ``population``, ``share_covered_{minutes}min`` and
        ``mean_walk_min``.
    minutes
        The time limit mapped.
    title
        Shown at the top (plain text; escaped).
    attribution
        Data statements for the attribution control (plain text; escaped by inert_html).
    """
    import folium

    el = _elements()
    share_col = S.share_covered(minutes)
    fc, rows = _features(lads)
    sel = lads.iloc[rows]
    styles = [
        {
            "color": "#444444",
            "weight": 0.6,
            "fillOpacity": 0.75,
            "fillColor": (
                SHARE_COLOURS[k]
                if (k := share_class(r.get(share_col))) >= 0 and r.get("status") == "ok"
                else NO_RESULT_COLOUR
            ),
        }
        for _, r in sel.iterrows()
    ]
    tips = [_tip(r, share_col, minutes) for _, r in sel.iterrows()]
    m = folium.Map(location=[52.8, -1.6], zoom_start=6, tiles=None, control_scale=True)
    if tiles is not None:
        folium.TileLayer(tiles, opacity=0.5, control=False).add_to(m)
    el["Style"]().add_to(m)
    el["Districts"](
        inert_html(f"Districts: residents within {minutes:g} min"), fc, styles, tips
    ).add_to(m)
    el["Box"](_legend(minutes), "bottomleft").add_to(m)
    el["Box"](f"<b>{inert_html(title)}</b>", "topright").add_to(m)
    el["Attribution"](" | ".join(inert_html(a) for a in attribution)).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.fit_bounds([[49.9, -5.8], [55.9, 1.8]])
    return m


def save_national_map(m: Any, path: Path, *, self_contained: bool) -> Path:
    """Write the national map (cnmap.maps.save_html)."""
    from cnmap.maps import save_html

    return save_html(m, path, self_contained=self_contained)

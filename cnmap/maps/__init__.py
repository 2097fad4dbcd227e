"""Maps of walking coverage, deprivation and thin infrastructure.

Interactive (folium / Leaflet, imported lazily):

- :func:`coverage_map` — a multi-layer HTML map of a coverage result (and a thin result), with
  a title panel (headline, data and dates, thin areas listed, about this map);
- :func:`map_facts` — the figures and dates that panel states, for other outputs;
- :func:`save_html` — write it, optionally self-contained (no CDN, opens offline);
- :func:`simplify_for_web` — light EPSG:4326 geometry with shared borders kept;
- :class:`MapLayer`, :func:`map_layer` — need layers (Census shares, DERI, IoD) drawn on it
  (``coverage_map(need_layers=...)``), made from a column of a :class:`cnmap.layers.NeedLayer`.

Static (matplotlib, EPSG:27700, for reports):

- :func:`static_map` — choropleth + points + legend + metric scale bar + attribution;
- :func:`coverage_figure`, :func:`imd_figure`, :func:`thin_figure` — the standard figures;
- :func:`save_figure` — PNG and PDF.

See ``docs/maps.md``.
"""

from __future__ import annotations

from .interactive import (
    BASEMAPS,
    DEFAULT_SHOW,
    DEFAULT_TILES,
    LAYER_KEYS,
    POPUP_FIELDS,
    MapFacts,
    coverage_map,
    layer_names,
    map_facts,
    save_html,
    simplify_for_web,
)
from .need import MapLayer, map_layer
from .static import (
    add_scale_bar,
    bivariate_figure,
    coverage_figure,
    imd_figure,
    save_figure,
    static_map,
    thin_figure,
)

__all__ = [
    "BASEMAPS",
    "DEFAULT_SHOW",
    "DEFAULT_TILES",
    "LAYER_KEYS",
    "POPUP_FIELDS",
    "MapFacts",
    "coverage_map",
    "map_facts",
    "layer_names",
    "save_html",
    "simplify_for_web",
    "MapLayer",
    "map_layer",
    "static_map",
    "coverage_figure",
    "imd_figure",
    "thin_figure",
    "bivariate_figure",
    "add_scale_bar",
    "save_figure",
]

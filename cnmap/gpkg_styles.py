"""Styles for the GeoPackage layers, so that the file opens styled in QGIS.

QGIS keeps styles inside a GeoPackage in an attribute table named ``layer_styles`` (the
convention of QGIS's own "Save style to database": columns ``f_table_catalog``,
``f_table_schema``, ``f_table_name``, ``f_geometry_column``, ``styleName``, ``styleQML``,
``styleSLD``, ``useAsDefault``, ``description``, ``owner``, ``ui``, ``update_time``). A row
with ``useAsDefault`` true is applied when the layer is added to a map.

:func:`style_for` chooses a style for a layer from its name and columns:

- ``lsoas``, ``wards``, ``thin_lsoas``, ``thin_wards``: share of residents within the
  headline walk, in fixed steps that matter (under 50%, 50-75, 75-90, 90-95, 95-100%), on a
  colour-blind-safe diverging scale (ColorBrewer RdBu); the thin areas in Okabe-Ito
  vermillion with their names, the thin wards as a dark outline;
- ``organisations``: one colour-blind-safe colour per type (Okabe-Ito, then Paul Tol's);
- ``residents``: the walk to the nearest organisation in the run's time limits;
- ``catchments``: translucent blue, one shade per time limit;
- any other layer: a neutral grey symbol for its geometry.

Each style is written as QML (what QGIS reads) and as SLD 1.1 (for GeoServer and other
tools); every text from the data (type names, field names) goes through an XML writer, so
it is escaped. :func:`write_layer_styles` adds the table to a GeoPackage.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "LAYER_STYLES_COLUMNS",
    "Symbol",
    "Range",
    "Category",
    "LayerStyle",
    "style_for",
    "styles_for",
    "layer_styles_frame",
    "write_layer_styles",
    "SHARE_STEPS",
    "TYPE_COLOURS",
]

#: The columns of QGIS's ``layer_styles`` table, in QGIS's order (``id`` is the FID).
LAYER_STYLES_COLUMNS: tuple[str, ...] = (
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
)

#: Share-covered classes (percent): fixed steps that separate areas in a well-served city.
SHARE_STEPS: tuple[float, ...] = (0.0, 50.0, 75.0, 90.0, 95.0, 100.0)
#: ColorBrewer RdBu (5 classes, colour-blind safe): red = few residents within reach.
_SHARE_COLOURS: tuple[str, ...] = ("#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0")
#: Okabe-Ito (without black) then Paul Tol's muted and bright colours: distinct types.
TYPE_COLOURS: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#332288",
    "#117733",
    "#88CCEE",
    "#DDCC77",
    "#661100",
)
_THIN_FILL = "#D55E00"
_NEUTRAL = "#7f7f7f"
_QGIS_VERSION = "3.28.0-Firenze"
_GEOMETRY_CODES = {"point": 0, "line": 1, "polygon": 2}
_SLD_NS = {
    "": "http://www.opengis.net/sld",
    "ogc": "http://www.opengis.net/ogc",
    "se": "http://www.opengis.net/se",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_MM_TO_PX = 3.78  # SLD sizes are in pixels (96 dpi)


@dataclass(frozen=True)
class Symbol:
    """One symbol: a filled polygon, a line or a circle marker.

    Colours are ``#rrggbb``; ``fill`` None draws no fill (an outline), ``stroke`` None no
    outline. Widths and sizes are millimetres (QGIS's default unit).
    """

    geometry: str
    fill: str | None = _NEUTRAL
    fill_opacity: float = 1.0
    stroke: str | None = "#ffffff"
    stroke_width_mm: float = 0.2
    size_mm: float = 2.4


@dataclass(frozen=True)
class Range:
    """A class of a graduated style: ``lower <= value <= upper``."""

    lower: float
    upper: float
    label: str
    symbol: Symbol


@dataclass(frozen=True)
class Category:
    """A class of a categorised style: ``field = value``."""

    value: str
    label: str
    symbol: Symbol


@dataclass(frozen=True)
class LayerStyle:
    """The style of one layer: a single symbol, graduated ranges or categories.

    Attributes
    ----------
    layer
        The GeoPackage table it belongs to.
    name
        Style name shown in QGIS (at most 30 characters in the table).
    description
        What the style shows, in plain English.
    geometry
        ``"point"``, ``"line"`` or ``"polygon"``.
    field
        The field classified (None for a single symbol).
    ranges, categories
        The classes (empty for a single symbol).
    single
        The symbol of a single-symbol style.
    label_field
        A field to write on the map (None: no labels).
    """

    layer: str
    name: str
    description: str
    geometry: str
    field: str | None = None
    ranges: tuple[Range, ...] = ()
    categories: tuple[Category, ...] = ()
    single: Symbol | None = None
    label_field: str | None = None

    def qml(self) -> str:
        """The style as a QGIS QML document."""
        return _qml(self)

    def sld(self) -> str:
        """The style as an OGC SLD 1.1 document (Symbology Encoding)."""
        return _sld(self)


# ---------------------------------------------------------------------------------------------
# colours


def _rgba(colour: str | None, opacity: float = 1.0) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a`` (transparent for None)."""
    if colour is None:
        return "0,0,0,0"
    h = colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * opacity)}"


def _num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


# ---------------------------------------------------------------------------------------------
# QML


def _options(parent: ET.Element, props: Mapping[str, str]) -> None:
    """QGIS symbol-layer properties, written both ways QGIS reads them: an ``Option`` map
    (QGIS 3.26 and later) and ``prop`` elements (earlier 3.x)."""
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(opt, "Option", type="QString", name=k, value=v)
    for k, v in props.items():
        ET.SubElement(parent, "prop", k=k, v=v)


def _layer_props(sym: Symbol) -> tuple[str, dict[str, str]]:
    """The QGIS symbol-layer class and its properties."""
    stroke = {
        "outline_color": _rgba(sym.stroke),
        "outline_style": "solid" if sym.stroke else "no",
        "outline_width": _num(sym.stroke_width_mm),
        "outline_width_unit": "MM",
    }
    if sym.geometry == "point":
        return "SimpleMarker", {
            "name": "circle",
            "color": _rgba(sym.fill, sym.fill_opacity),
            "size": _num(sym.size_mm),
            "size_unit": "MM",
            **stroke,
        }
    if sym.geometry == "line":
        return "SimpleLine", {
            "line_color": _rgba(sym.stroke or sym.fill),
            "line_width": _num(sym.stroke_width_mm),
            "line_width_unit": "MM",
            "line_style": "solid",
        }
    return "SimpleFill", {
        "color": _rgba(sym.fill, sym.fill_opacity),
        "style": "solid" if sym.fill else "no",
        **stroke,
    }


def _qml_symbol(parent: ET.Element, name: str, sym: Symbol) -> None:
    kind = {"point": "marker", "line": "line"}.get(sym.geometry, "fill")
    el = ET.SubElement(
        parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    cls, props = _layer_props(sym)
    _options(
        ET.SubElement(el, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"}),
        props,
    )


def _renderer(root: ET.Element, style: LayerStyle) -> None:
    common = {"symbollevels": "0", "forceraster": "0", "enableorderby": "0", "referencescale": "-1"}
    if style.ranges and style.field:
        r = ET.SubElement(
            root,
            "renderer-v2",
            {
                "type": "graduatedSymbol",
                "attr": style.field,
                "graduatedMethod": "GraduatedColor",
                **common,
            },
        )
        ranges = ET.SubElement(r, "ranges")
        for i, rg in enumerate(style.ranges):
            ET.SubElement(
                ranges,
                "range",
                lower=_num(rg.lower),
                upper=_num(rg.upper),
                symbol=str(i),
                label=rg.label,
                render="true",
            )
        symbols = [rg.symbol for rg in style.ranges]
    elif style.categories and style.field:
        r = ET.SubElement(
            root, "renderer-v2", {"type": "categorizedSymbol", "attr": style.field, **common}
        )
        cats = ET.SubElement(r, "categories")
        for i, c in enumerate(style.categories):
            ET.SubElement(
                cats, "category", value=c.value, symbol=str(i), label=c.label, render="true"
            )
        symbols = [c.symbol for c in style.categories]
    else:
        r = ET.SubElement(root, "renderer-v2", {"type": "singleSymbol", **common})
        symbols = [style.single or Symbol(style.geometry)]
    sym_el = ET.SubElement(r, "symbols")
    for i, s in enumerate(symbols):
        _qml_symbol(sym_el, str(i), s)


def _labeling(root: ET.Element, field: str) -> None:
    lab = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(lab, "settings", calloutType="simple")
    style = ET.SubElement(
        settings,
        "text-style",
        fieldName=field,
        isExpression="0",
        fontSize="8",
        fontSizeUnit="Point",
        textColor="0,0,0,255",
        fontWeight="75",
        textOpacity="1",
    )
    ET.SubElement(
        style,
        "text-buffer",
        bufferDraw="1",
        bufferSize="0.8",
        bufferSizeUnits="MM",
        bufferColor="255,255,255,255",
        bufferOpacity="1",
    )
    ET.SubElement(settings, "placement", placement="0", dist="0")
    ET.SubElement(settings, "rendering", obstacle="1", scaleVisibility="0")


def _qml(style: LayerStyle) -> str:
    root = ET.Element(
        "qgis",
        version=_QGIS_VERSION,
        styleCategories="Symbology|Labeling",
        labelsEnabled="1" if style.label_field else "0",
    )
    _renderer(root, style)
    if style.label_field:
        _labeling(root, style.label_field)
    ET.SubElement(root, "layerGeometryType").text = str(_GEOMETRY_CODES[style.geometry])
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


# ---------------------------------------------------------------------------------------------
# SLD


def _q(prefix: str, tag: str) -> str:
    return f"{{{_SLD_NS[prefix]}}}{tag}"


def _svg(parent: ET.Element, tag: str, params: Mapping[str, str]) -> None:
    el = ET.SubElement(parent, _q("se", tag))
    for k, v in params.items():
        ET.SubElement(el, _q("se", "SvgParameter"), name=k).text = v


def _fill_stroke(parent: ET.Element, sym: Symbol) -> None:
    if sym.fill:
        _svg(parent, "Fill", {"fill": sym.fill, "fill-opacity": _num(sym.fill_opacity)})
    if sym.stroke:
        _svg(
            parent,
            "Stroke",
            {"stroke": sym.stroke, "stroke-width": _num(sym.stroke_width_mm * _MM_TO_PX)},
        )


def _sld_symbolizer(rule: ET.Element, sym: Symbol) -> None:
    if sym.geometry == "point":
        ps = ET.SubElement(rule, _q("se", "PointSymbolizer"))
        graphic = ET.SubElement(ps, _q("se", "Graphic"))
        mark = ET.SubElement(graphic, _q("se", "Mark"))
        ET.SubElement(mark, _q("se", "WellKnownName")).text = "circle"
        _fill_stroke(mark, sym)
        ET.SubElement(graphic, _q("se", "Size")).text = _num(sym.size_mm * _MM_TO_PX)
    elif sym.geometry == "line":
        ls = ET.SubElement(rule, _q("se", "LineSymbolizer"))
        _svg(
            ls,
            "Stroke",
            {
                "stroke": sym.stroke or sym.fill or _NEUTRAL,
                "stroke-width": _num(sym.stroke_width_mm * _MM_TO_PX),
            },
        )
    else:
        _fill_stroke(ET.SubElement(rule, _q("se", "PolygonSymbolizer")), sym)


def _compare(parent: ET.Element, op: str, field: str, value: str) -> None:
    el = ET.SubElement(parent, _q("ogc", op))
    ET.SubElement(el, _q("ogc", "PropertyName")).text = field
    ET.SubElement(el, _q("ogc", "Literal")).text = value


def _sld_rule(fts: ET.Element, label: str) -> ET.Element:
    rule = ET.SubElement(fts, _q("se", "Rule"))
    ET.SubElement(rule, _q("se", "Name")).text = label
    desc = ET.SubElement(rule, _q("se", "Description"))
    ET.SubElement(desc, _q("se", "Title")).text = label
    return rule


def _sld_rules(fts: ET.Element, style: LayerStyle) -> None:
    if style.ranges and style.field:
        last = len(style.ranges) - 1
        for i, rg in enumerate(style.ranges):
            rule = _sld_rule(fts, rg.label)
            both = ET.SubElement(ET.SubElement(rule, _q("ogc", "Filter")), _q("ogc", "And"))
            _compare(both, "PropertyIsGreaterThanOrEqualTo", style.field, _num(rg.lower))
            _compare(
                both,
                "PropertyIsLessThanOrEqualTo" if i == last else "PropertyIsLessThan",
                style.field,
                _num(rg.upper),
            )
            _sld_symbolizer(rule, rg.symbol)
    elif style.categories and style.field:
        for c in style.categories:
            rule = _sld_rule(fts, c.label)
            _compare(
                ET.SubElement(rule, _q("ogc", "Filter")), "PropertyIsEqualTo", style.field, c.value
            )
            _sld_symbolizer(rule, c.symbol)
    else:
        sym = style.single or Symbol(style.geometry)
        _sld_symbolizer(_sld_rule(fts, style.name), sym)


def _sld(style: LayerStyle) -> str:
    for prefix, uri in _SLD_NS.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element(
        _q("", "StyledLayerDescriptor"),
        {
            "version": "1.1.0",
            _q("xsi", "schemaLocation"): "http://www.opengis.net/sld "
            "http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd",
        },
    )
    layer = ET.SubElement(root, _q("", "NamedLayer"))
    ET.SubElement(layer, _q("se", "Name")).text = style.layer
    user = ET.SubElement(layer, _q("", "UserStyle"))
    ET.SubElement(user, _q("se", "Name")).text = style.name
    _sld_rules(ET.SubElement(user, _q("se", "FeatureTypeStyle")), style)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------
# choosing a style from a layer's name and columns


def _geometry_kind(geom_type: str | None) -> str:
    g = (geom_type or "").lower()
    if "point" in g:
        return "point"
    if "line" in g:
        return "line"
    return "polygon"


def _share_field(columns: Sequence[str], minutes: float | None) -> str | None:
    """The headline share-covered field of an area layer (``share_covered_pct`` of a thin
    table, else ``share_covered_{T}min_pct`` at ``minutes``, 15 or the largest)."""
    if "share_covered_pct" in columns:
        return "share_covered_pct"
    found: dict[float, str] = {}
    for c in columns:
        m = re.fullmatch(r"share_covered_([0-9.]+)min_pct", c)
        if m:
            found[float(m.group(1))] = c
    if not found:
        return None
    if minutes is not None and float(minutes) in found:
        return found[float(minutes)]
    return found.get(15.0, found[max(found)])


def _share_ranges(outline: str | None) -> tuple[Range, ...]:
    steps = SHARE_STEPS
    out = []
    for i, colour in enumerate(_SHARE_COLOURS):
        lo, hi = steps[i], steps[i + 1]
        label = f"under {hi:g}%" if i == 0 else f"{lo:g}% to {hi:g}%"
        out.append(
            Range(
                lo,
                hi,
                label,
                Symbol(
                    "polygon", fill=colour, fill_opacity=0.85, stroke=outline, stroke_width_mm=0.15
                ),
            )
        )
    return tuple(out)


def _area_style(layer: str, columns: Sequence[str], minutes: float | None) -> LayerStyle:
    field = _share_field(columns, minutes)
    what = "LSOA" if "lsoa" in layer else "ward"
    walk = re.search(r"([0-9.]+)min", field or "")
    within = (
        f"{walk.group(1)} minutes"
        if walk
        else f"{minutes:g} minutes"
        if minutes is not None
        else "the walk"
    )
    if layer.startswith("thin_") and layer.endswith("lsoas"):
        return LayerStyle(
            layer,
            "Thin areas",
            "Thin LSOAs: deprived and poorly covered, labelled with their names",
            "polygon",
            single=Symbol(
                "polygon", fill=_THIN_FILL, fill_opacity=0.6, stroke="#000000", stroke_width_mm=0.5
            ),
            label_field="lsoa_name" if "lsoa_name" in columns else None,
        )
    if layer.startswith("thin_"):
        return LayerStyle(
            layer,
            "Thin wards",
            "Flagged wards as a dark outline",
            "polygon",
            single=Symbol("polygon", fill=None, stroke="#000000", stroke_width_mm=0.8),
            label_field="ward_name" if "ward_name" in columns else None,
        )
    if field is None:
        return _plain_style(layer, "polygon")
    return LayerStyle(
        layer,
        f"Share within {within}"[:30],
        f"Share of each {what}'s residents within {within}' walk of an organisation (percent)",
        "polygon",
        field=field,
        ranges=_share_ranges("#ffffff" if what == "LSOA" else "#404040"),
    )


def _type_style(layer: str, values: Iterable[Any], field: str) -> LayerStyle:
    kinds = sorted({str(v) for v in values if v is not None and not pd.isna(v)})
    if not kinds or len(kinds) > len(TYPE_COLOURS):
        return LayerStyle(
            layer,
            "Organisations",
            "The organisations used",
            "point",
            single=Symbol(
                "point", fill="#0072B2", stroke="#ffffff", stroke_width_mm=0.3, size_mm=2.6
            ),
        )
    cats = tuple(
        Category(
            k,
            k.replace("_", " "),
            Symbol(
                "point", fill=TYPE_COLOURS[i], stroke="#000000", stroke_width_mm=0.2, size_mm=2.6
            ),
        )
        for i, k in enumerate(kinds)
    )
    return LayerStyle(
        layer,
        "Organisations by type",
        "The organisations used, one colour per type",
        "point",
        field=field,
        categories=cats,
    )


def _minutes_ranges(limits: Sequence[float]) -> tuple[Range, ...]:
    edges = [0.0, *sorted(float(t) for t in limits)]
    colours = ("#0571b0", "#92c5de", "#fddbc7", "#f4a582", "#ca0020", "#67001f")
    out = []
    for i in range(len(edges)):
        lo = edges[i]
        hi = edges[i + 1] if i + 1 < len(edges) else 1e9
        label = f"{lo:g} to {hi:g} minutes" if i + 1 < len(edges) else f"over {lo:g} minutes"
        out.append(
            Range(
                lo,
                hi,
                label,
                Symbol("point", fill=colours[min(i, len(colours) - 1)], stroke=None, size_mm=1.2),
            )
        )
    return tuple(out)


def _residents_style(layer: str, columns: Sequence[str], limits: Sequence[float]) -> LayerStyle:
    if "walk_min" not in columns:
        return _plain_style(layer, "point")
    return LayerStyle(
        layer,
        "Walk to nearest organisation",
        "Residential points by the walk to the nearest organisation, in the run's time limits",
        "point",
        field="walk_min",
        ranges=_minutes_ranges(limits or (5, 10, 15, 20)),
    )


def _catchment_style(layer: str, minutes: Iterable[Any]) -> LayerStyle:
    values = sorted({float(m) for m in minutes if m is not None and not pd.isna(m)})
    if len(values) <= 1:
        return LayerStyle(
            layer,
            "Walking catchments",
            "Streets reached within the walk, buffered",
            "polygon",
            single=Symbol("polygon", fill="#0072B2", fill_opacity=0.25, stroke=None),
        )
    cats = tuple(
        Category(
            _num(m),
            f"within {m:g} minutes",
            Symbol(
                "polygon",
                fill="#0072B2",
                fill_opacity=0.45 - 0.3 * i / (len(values) - 1),
                stroke=None,
            ),
        )
        for i, m in enumerate(values)
    )
    return LayerStyle(
        layer,
        "Walking catchments",
        "Streets reached within each time limit, buffered",
        "polygon",
        field="minutes",
        categories=cats,
    )


def _plain_style(layer: str, geometry: str) -> LayerStyle:
    return LayerStyle(
        layer,
        layer[:30],
        f"{layer} ({geometry}s)",
        geometry,
        single=Symbol(geometry, fill=_NEUTRAL, fill_opacity=0.6, stroke="#333333"),
    )


def style_for(
    layer: str,
    frame: pd.DataFrame,
    geom_type: str | None,
    *,
    minutes: float | None = None,
    limits: Sequence[float] = (),
) -> LayerStyle:
    """The style of one GeoPackage layer from its name, columns and geometry type.

    Parameters
    ----------
    layer
        The layer (table) name.
    frame
        The layer's attributes as written (only column names and, for categories, the values
        of ``type`` or ``minutes`` are used).
    geom_type
        Its geometry type ("Point", "MultiPolygon"...).
    minutes
        The headline time limit (for the share classes of ``lsoas`` and ``wards``).
    limits
        The run's time limits (for the residents' classes).
    """
    cols = [str(c) for c in frame.columns]
    kind = _geometry_kind(geom_type)
    if kind == "polygon" and re.search(r"(^|_)(lsoas|wards)$", layer):
        return _area_style(layer, cols, minutes)
    if kind == "point" and layer == "organisations" and "type" in cols:
        return _type_style(layer, frame["type"], "type")
    if kind == "point" and layer == "residents":
        return _residents_style(layer, cols, limits)
    if kind == "polygon" and layer == "catchments":
        return _catchment_style(layer, frame["minutes"] if "minutes" in cols else ())
    return _plain_style(layer, kind)


def styles_for(
    layers: Mapping[str, tuple[pd.DataFrame, str | None]],
    *,
    minutes: float | None = None,
    limits: Sequence[float] = (),
) -> list[LayerStyle]:
    """One style per layer: ``layers`` maps a layer name to (attributes, geometry type)."""
    return [
        style_for(name, frame, geom, minutes=minutes, limits=limits)
        for name, (frame, geom) in layers.items()
    ]


def layer_styles_frame(
    styles: Sequence[LayerStyle], *, geometry_column: str = "geom", when: _dt.datetime | None = None
) -> pd.DataFrame:
    """The rows of QGIS's ``layer_styles`` table for ``styles`` (each the layer's default)."""
    stamp = (when or _dt.datetime.now(_dt.UTC)).replace(microsecond=0)
    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": s.layer,
            "f_geometry_column": geometry_column,
            "styleName": s.name[:30],
            "styleQML": s.qml(),
            "styleSLD": s.sld(),
            "useAsDefault": True,
            "description": s.description,
            "owner": "cnmap",
            "ui": "",
            "update_time": stamp,
        }
        for s in styles
    ]
    frame = pd.DataFrame(rows, columns=list(LAYER_STYLES_COLUMNS))
    frame["useAsDefault"] = frame["useAsDefault"].astype(bool)
    frame["update_time"] = pd.to_datetime(frame["update_time"], utc=True)
    return frame


def write_layer_styles(
    path: str | Path, styles: Sequence[LayerStyle], *, geometry_column: str = "geom"
) -> int:
    """Add (or replace) the ``layer_styles`` table of a GeoPackage; returns the rows written.

    The table is written through GDAL as an attribute table whose FID column is ``id``, as
    QGIS writes it, so that it is listed in ``gpkg_contents``.
    """
    import pyogrio

    frame = layer_styles_frame(styles, geometry_column=geometry_column)
    pyogrio.write_dataframe(
        frame,
        str(path),
        layer="layer_styles",
        driver="GPKG",
        layer_options={"FID": "id", "DESCRIPTION": "QGIS layer styles (QML and SLD)"},
    )
    return len(frame)

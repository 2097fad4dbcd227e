"""The national map's folium/branca elements (imported by :mod:`cnmap.national.maps` on first use).

Templates are built with :func:`cnmap.maps._templates.inert_template`: data reach the page only
through ``|tojson``, never as template code.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.map import Layer

from cnmap.maps._elements import Attribution
from cnmap.maps._templates import inert_template

__all__ = ["Style", "Districts", "Box", "Attribution", "CSS"]

#: The national map's stylesheet (cnmap's own, no data).
CSS = (
    ".cnmap-national-tip th{text-align:left;font-weight:normal;color:#555;padding-right:8px}"
    ".cnmap-national-box{background:#fff;padding:6px 8px;border-radius:4px;"
    "box-shadow:0 0 4px rgba(0,0,0,.3);font:12px/1.4 sans-serif}"
    ".cnmap-national-box i{display:inline-block;width:14px;height:12px;margin-right:6px;"
    "vertical-align:middle;border:1px solid #777}"
    ".leaflet-control-attribution{max-width:60%;font-size:11px}"
)


class Style(MacroElement):
    _template = inert_template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        {% endmacro %}
        """,
        constants=("css",),
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "CnmapNationalStyle"
        self.css = CSS


class Districts(Layer):
    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
            var styles = {{ this.styles|tojson }};
            var tips = {{ this.tips|tojson }};
            var layer = L.geoJson(null, {
                style: function(f) { return styles[f.properties.i]; },
                onEachFeature: function(f, l) {
                    l.bindTooltip(tips[f.properties.i], {sticky: true});
                    l.on('mouseover', function() { l.setStyle({weight: 3}); });
                    l.on('mouseout', function() { layer.resetStyle(l); });
                }
            });
            layer.addData({{ this.fc|tojson }});
            return layer;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, name: str, fc: dict[str, Any], styles: list[dict[str, Any]], tips: list[str]
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "CnmapNationalDistricts"
        self.fc, self.styles, self.tips = fc, styles, tips


class Box(MacroElement):
    """A fixed box of HTML (legend, title), escaped text only."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function() {
                var div = L.DomUtil.create('div', 'cnmap-national-box');
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            ctl.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "CnmapNationalBox"
        self.html, self.position = html, position

"""The national map's folium/branca elements (imported by :mod:`cnmap.national.maps` on first use).

Templates are built with :func:`cnmap.maps._safe.inert_template`: data reach the page only
through ``|tojson``, never as template code.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.map import Layer

from cnmap.maps._elements import Attribution
from cnmap.maps._safe import inert_template
from cnmap.national.maps import CSS

__all__ = ["Style", "Districts", "Box", "Attribution"]


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

"""The "layers of local" map's folium/branca elements (imported by :func:`cnmap.local.local_map`
on first use). Templates are built with :func:`cnmap.maps._templates.inert_template`: data reach the
page only through ``|tojson``."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.map import Layer

from cnmap.maps._templates import inert_template

__all__ = ["ScaleLayer", "Panel"]


class ScaleLayer(Layer):
    """One scale's units: polygons with a per-feature style and tooltip."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data|tojson }}, {
            style: function(f) { return f.properties.style; },
            onEachFeature: function(f, l) {
                l.bindTooltip(f.properties.tip, {sticky: true});
            }
        });
        {% endmacro %}
        """
    )

    def __init__(self, name: str, data: dict[str, Any], show: bool) -> None:
        super().__init__(name=name, overlay=False, control=True, show=show)
        self._name = "CnmapLocalScale"
        self.data = data


class Panel(MacroElement):
    """The title, the table of the four scales, the colour key and the sources."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: 'bottomleft'});
        {{ this.get_name() }}.onAdd = function() {
            var d = L.DomUtil.create('div');
            d.innerHTML = {{ this.html|tojson }};
            return d;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapLocalPanel"
        self.html = html

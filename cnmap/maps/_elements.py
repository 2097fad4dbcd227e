"""cnmap's own folium/branca map elements (imported by :mod:`cnmap.maps.interactive` on first use).

Each element's template is built with :func:`cnmap.maps._templates.inert_template`: data reach the
page only through ``|tojson`` (:func:`cnmap.maps._safe.inert_json`), never as template code.
"""

from __future__ import annotations

import json
from typing import Any

import folium.plugins
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer

from . import _style as S
from ._payloads import AreaPayload, OrgPayload, SharedGeometry
from ._style import REFERRER_POLICY
from ._templates import inert_template

__all__ = ["Runtime", "SharedData", "AreaLayer", "OrgMarkers", "Panel", "Attribution", "WardSearch"]

#: The page's small HTML builders and layer logic (cnmap's own script, no data).
RUNTIME_JS = (
    """
var cnmapAreas = [];
var CNMAP_SHAPES = """
    + json.dumps(S.SHAPE_SVG)
    + """;
function cnmapSmall() {
  return !!(window.matchMedia && window.matchMedia('(max-width: 640px), (max-height: 480px)').matches);
}
function cnmapPadding(small, panel, right) {
  return small ? {paddingTopLeft: [5, panel + 10], paddingBottomRight: [5, 45]}
               : {paddingTopLeft: [panel + 25, 10], paddingBottomRight: [right + 15, 10]};
}
if (window.L && L.Control && L.Control.Layers) {
  L.Control.Layers.addInitHook(function() {
    if (cnmapSmall()) { this.options.collapsed = true; }
  });
  L.Map.addInitHook(function() {
    var b = this.options.cnmapBounds;
    if (!b) { return; }
    var small = cnmapSmall();  /* the panels' usual size, until they are drawn */
    var pad = cnmapPadding(small, small ? 250 : 370, 280);
    pad.animate = false;
    this.fitBounds(b, pad);
  });
}
function cnmapTip(title, labels, row) {
  var h = '<div class="cnmap-tip"><b>' + title + '</b>';
  if (row && row.length) {
    h += '<table>';
    for (var k = 0; k < labels.length; k++) {
      if (row[k] === null || row[k] === undefined || row[k] === '') { continue; }
      h += '<tr><th>' + labels[k] + '</th><td>' + row[k] + '</td></tr>';
    }
    h += '</table>';
  }
  return h + '</div>';
}
function cnmapAreaTip(entry, title, i) {
  var map = entry.layer._map, labels = [], row = [], seen = Object.create(null);
  cnmapAreas.forEach(function(e) {
    if (e.data !== entry.data || !map || !map.hasLayer(e.layer)) { return; }
    var r = e.rows[i];
    if (!r || !r.length) { return; }
    for (var k = 0; k < e.labels.length; k++) {
      var v = r[k];
      if (v === null || v === undefined || v === '' || seen[e.labels[k]]) { continue; }
      seen[e.labels[k]] = true;
      labels.push(e.labels[k]);
      row.push(v);
    }
  });
  return cnmapTip(title, labels, row);
}
function cnmapRestack(map, keep) {
  var under = false;
  cnmapAreas.forEach(function(e) {
    if (e.map === map && map.hasLayer(e.layer)) {
      if (!keep) { e.layer.bringToFront(); }
      if (e.under) { under = true; }
    }
  });
  var c = map.getContainer();
  if (under) { L.DomUtil.addClass(c, 'cnmap-areas-on'); }
  else { L.DomUtil.removeClass(c, 'cnmap-areas-on'); }
  cnmapTidy(map);
}
function cnmapClash(a, b) {
  return !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
}
function cnmapTidy(map) {
  var c = map.getContainer();
  ['left', 'right'].forEach(function(side) {
    var top = c.querySelector('.leaflet-top.leaflet-' + side);
    var bottom = c.querySelector('.leaflet-bottom.leaflet-' + side);
    if (!top || !bottom) { return; }
    for (var guard = 0; guard < 20; guard++) {
      var tops = Array.prototype.map.call(top.children, function(e) {
        return e.getBoundingClientRect();
      });
      var clash = Array.prototype.some.call(bottom.children, function(e) {
        var r = e.getBoundingClientRect();
        return tops.some(function(t) { return cnmapClash(r, t); });
      });
      var open = Array.prototype.slice.call(bottom.querySelectorAll('details.cnmap-fold[open]'));
      if (!clash || !open.length) { return; }
      open.sort(function(a, b) { return b.offsetHeight - a.offsetHeight; })[0].open = false;
    }
  });
}
function cnmapRegister(data, entry, map) {
  entry.data = data;
  entry.map = map;
  cnmapAreas.push(entry);
  if (!map._cnmapWatched) {
    map._cnmapWatched = true;
    map.on('overlayadd overlayremove', function() { cnmapRestack(map); });
    setTimeout(function() { cnmapRestack(map, true); }, 0);  /* drawn in order already */
  }
}
function cnmapZoomTo(map, layer, i) {
  if (!layer) { return; }
  if (!map.hasLayer(layer)) { map.addLayer(layer); cnmapRestack(map); }
  layer.eachLayer(function(l) {
    if (!l.feature || l.feature.properties.i !== i) { return; }
    var small = cnmapSmall();
    var left = small ? 10 : Math.min(400, map.getSize().x / 2);
    map.fitBounds(l.getBounds(), {paddingTopLeft: [left, 20], paddingBottomRight: [20, 20],
                                  maxZoom: 16, animate: false});
    layer.resetStyle();
    l.setStyle({color: '#ff7f00', weight: 6});
    l.openTooltip(l.getBounds().getCenter());
  });
}
function cnmapPanel(map, div, layer) {
  if (cnmapSmall()) {
    div.querySelectorAll('details.cnmap-fold').forEach(function(d) { d.open = false; });
  }
  if (L.DomUtil.hasClass(div, 'cnmap-story')) {
    setTimeout(function() { cnmapTidy(map); cnmapFit(map, div); }, 0);
  }
  div.querySelectorAll('[data-cnmap-i]').forEach(function(el) {
    var go = function() { cnmapZoomTo(map, layer, +el.getAttribute('data-cnmap-i')); };
    L.DomEvent.on(el, 'click', go);
    L.DomEvent.on(el, 'keydown', function(ev) { if (ev.key === 'Enter') { go(); } });
  });
}
function cnmapBadges(layer, badges) {
  if (!badges || !badges.length) { return; }
  var group = L.layerGroup(badges.map(function(b) {
    var mk = L.marker([b[0], b[1]], {
      icon: L.divIcon({className: 'cnmap-badge', html: b[2], iconSize: [22, 22]}),
      keyboard: false, pane: 'cnmapBadges', title: 'Thin area ' + b[2]
    });
    mk.on('click', function() { cnmapZoomTo(mk._map, layer, b[3]); });
    return mk;
  }));
  layer.on('add', function() {
    var map = layer._map;
    if (!map.getPane('cnmapBadges')) { map.createPane('cnmapBadges').style.zIndex = 640; }
    group.addTo(map);
  });
  layer.on('remove', function() { group.remove(); });
}
function cnmapFit(map, div) {
  var b = null;
  cnmapAreas.forEach(function(e) {
    if (e.map !== map) { return; }
    var lb = e.layer.getBounds();
    if (!lb.isValid()) { return; }
    if (b) { b.extend(lb); } else { b = L.latLngBounds(lb.getSouthWest(), lb.getNorthEast()); }
  });
  if (!b) { return; }
  var small = cnmapSmall(), right = 0;
  map.getContainer().querySelectorAll('.leaflet-right .cnmap-legend-box').forEach(function(el) {
    right = Math.max(right, el.offsetWidth);
  });
  var pad = cnmapPadding(small, small ? div.offsetTop + div.offsetHeight : div.offsetWidth,
                         right);
  var to = map._getBoundsCenterZoom(b, pad);
  var moved = map.latLngToContainerPoint(to.center).distanceTo(map.getSize().divideBy(2));
  if (to.zoom !== map.getZoom() || moved > 8) {  /* else the first view already fits */
    pad.animate = false;
    map.fitBounds(b, pad);
  }
}
function cnmapSymbol(colour, shape, approx) {
  var paint = approx
    ? 'fill="#ffffff" stroke="' + colour + '" stroke-width="2.6" stroke-dasharray="2.2 1.6"'
    : 'fill="' + colour + '" stroke="#1a1a1a" stroke-width="1.4"';
  return '<svg width="14" height="14" viewBox="0 0 14 14"><g ' + paint + '>'
    + CNMAP_SHAPES[shape] + '</g></svg>';
}
"""
)

#: The page's stylesheet (cnmap's own, no data).
CSS = (
    ".cnmap-tip table{border-collapse:collapse;margin-top:2px}"
    ".cnmap-tip th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;"
    "vertical-align:top;max-width:150px;white-space:normal}"
    ".cnmap-tip td{padding:1px 0;max-width:260px;white-space:normal}"
    ".leaflet-tooltip .cnmap-tip td{white-space:normal;min-width:60px}"
    ".leaflet-tooltip{max-width:min(440px,90vw)}"
    ".cnmap-org{background:transparent;border:none}"
    ".cnmap-org svg{display:block;filter:drop-shadow(0 0 1px #fff)}"
    ".cnmap-far svg{border-radius:50%;box-shadow:0 0 0 2.5px #d7191c;background:#fff}"
    ".cnmap-legend-box{margin-bottom:6px}"
    ".leaflet-control-layers{font:13px/1.35 Arial,Helvetica,sans-serif}"
    ".leaflet-control-layers label{margin:1px 0}"
    # long layer names (need layers: label and vintage) wrap beside their checkbox (not on a
    # phone, where the layer list is folded and the names keep their one line)
    "@media (min-width:641px) and (min-height:481px){"
    ".leaflet-control-layers-overlays label>span>span{display:inline-block;max-width:310px;"
    "white-space:normal;vertical-align:top}}"
    ".cnmap-badge{background:#111;color:#fff;border:2px solid #fff;border-radius:50%;"
    "font:bold 12px/18px Arial,Helvetica,sans-serif;text-align:center;box-sizing:border-box;"
    "box-shadow:0 0 4px rgba(0,0,0,0.7);cursor:pointer}"
    ".cnmap-dates{font-size:11.5px;color:#333}"
    ".cnmap-legend summary,.cnmap-story summary{cursor:pointer}"
    ".cnmap-legend summary b{font-size:12px}"
    ".cnmap-note{margin-top:3px;color:#444;font-size:11px}"
    ".leaflet-control-attribution{max-width:55%;font-size:11px}"
    # the story panel (title, headline, thin areas, data, about)
    ".cnmap-story{background:rgba(255,255,255,0.96);padding:8px 11px;border-radius:5px;"
    "box-shadow:0 1px 5px rgba(0,0,0,0.35);font:13px/1.4 Arial,Helvetica,sans-serif;"
    "width:360px;max-width:calc(100vw - 90px);max-height:calc(100vh - 190px);"
    "overflow-y:auto;color:#111;box-sizing:border-box}"
    ".cnmap-title{font-size:17px;font-weight:bold;line-height:1.25;margin:0 0 4px}"
    ".cnmap-story p{margin:4px 0}"
    ".cnmap-headline{font-size:14px}"
    ".cnmap-gapline{color:#222}"
    ".cnmap-story ol{margin:4px 0 2px;padding-left:22px;max-height:26vh;overflow-y:auto}"
    ".cnmap-story li{margin:0 0 5px;cursor:pointer}"
    ".cnmap-story li:hover,.cnmap-story li:focus{background:#fff3d6;outline:none}"
    ".cnmap-why{font-size:11.5px;color:#444}"
    ".cnmap-story ul{margin:3px 0;padding-left:18px;font-size:12px}"
    ".cnmap-about p{font-size:12px;color:#222}"
    ".cnmap-story details{margin-top:5px}"
    ".cnmap-story summary{font-weight:bold;color:#0b4f8a}"
    # neutral cluster bubbles (organisation colours stay for the types)
    ".leaflet-container .marker-cluster-small,.leaflet-container .marker-cluster-medium,"
    ".leaflet-container .marker-cluster-large{background-color:rgba(90,90,90,0.28)}"
    ".leaflet-container .marker-cluster-small div,.leaflet-container .marker-cluster-medium div,"
    ".leaflet-container .marker-cluster-large div{background-color:rgba(255,255,255,0.95);"
    "border:1.5px solid #555;color:#111;font-weight:bold}"
    # ward outlines let the hover through to the areas below while an area layer is on
    ".leaflet-container.cnmap-areas-on .leaflet-pane > svg path.cnmap-ward"
    "{pointer-events:visibleStroke}"
    # phones and small windows: compact panel, legends and layer list folded
    "@media (max-width:640px),(max-height:480px){"
    ".cnmap-story{width:auto;max-width:calc(100vw - 80px);max-height:45vh;padding:6px 8px;"
    "font-size:12px}"
    ".cnmap-title{font-size:14px}.cnmap-headline{font-size:12.5px}"
    ".cnmap-legend{max-width:calc(100vw - 40px) !important}"
    ".leaflet-control-attribution{max-width:100%;font-size:9px;line-height:1.2}"
    ".leaflet-control-scale{display:none}}"
)


class Runtime(MacroElement):
    """The page's referrer policy, stylesheet and small HTML builders (once per map)."""

    _template = inert_template(
        """
        {% macro header(this, kwargs) %}
        <meta name="referrer" content="{{ this.referrer }}">
        <style>{{ this.css }}</style>
        <script>{{ this.js }}</script>
        {% endmacro %}
        """,
        constants=("css", "js", "referrer"),  # cnmap's own text, no data
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapRuntime"
        self.css = CSS
        self.js = RUNTIME_JS
        self.referrer = REFERRER_POLICY


class SharedData(MacroElement):
    """A GeoJSON FeatureCollection written once, used by several layers."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.fc|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, shared: SharedGeometry) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapData"
        self.fc = shared.fc


class AreaLayer(Layer):
    """A polygon layer drawn from shared features with per-feature style and tooltip.

    Its tooltip lists the values of every layer on the same features that is on the map,
    so the hover works whichever layer is on top."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
            var styles = {{ this.p.styles|tojson }};
            var idx = {{ this.p.style_index|tojson }};
            var labels = {{ this.p.labels|tojson }};
            var rows = {{ this.p.rows|tojson }};
            var hl = {{ this.p.highlight|tojson }};
            var opts = {{ this.p.options|tojson }};
            var entry = {labels: labels, rows: rows, under: opts.group === 'lsoa'};
            var layer = L.geoJson(null, {
                interactive: opts.interactive,
                className: opts.className,
                filter: function(f) { return idx[f.properties.i] >= 0; },
                style: function(f) { return styles[idx[f.properties.i]]; },
                onEachFeature: function(f, l) {
                    if (!opts.interactive) { return; }
                    var i = f.properties.i;
                    l.bindTooltip(function() {
                        return cnmapAreaTip(entry, f.properties.t, i);
                    }, {sticky: true});
                    if (hl) {
                        l.on('mouseover', function() { l.setStyle(hl); });
                        l.on('mouseout', function() { layer.resetStyle(l); });
                    }
                }
            });
            entry.layer = layer;
            cnmapRegister({{ this.data.get_name() }}, entry, {{ this._parent.get_name() }});
            layer.addData({{ this.data.get_name() }});
            cnmapBadges(layer, opts.badges);
            return layer;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, payload: AreaPayload, data: Any, show: bool) -> None:
        super().__init__(name=payload.name, overlay=True, control=True, show=show)
        self._name = "CnmapAreaLayer"
        self.p = payload
        self.data = data
        self.key = payload.key


class OrgMarkers(MacroElement):
    """Organisation markers added to the parent cluster / feature group."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var pts = {{ this.p.points|tojson }};
            var colours = {{ this.p.colours|tojson }};
            var labels = {{ this.p.labels|tojson }};
            var shapes = {{ this.p.shapes|tojson }};
            var group = {{ this._parent.get_name() }};
            var markers = [];
            pts.forEach(function(p) {
                var approx = (p[5] & 1) === 1, far = (p[5] & 2) === 2;
                var icon = L.divIcon({
                    className: 'cnmap-org' + (approx ? ' cnmap-approx' : '')
                        + (far ? ' cnmap-far' : ''),
                    html: cnmapSymbol(colours[p[2]], shapes[p[2]], approx),
                    iconSize: [14, 14], iconAnchor: [7 - p[6], 7 - p[7]],
                    popupAnchor: [p[6], p[7] - 7]
                });
                var m = L.marker([p[0], p[1]], {icon: icon, keyboard: false});
                m.bindPopup(function() { return cnmapTip(p[3], labels, p[4]); }, {maxWidth: 320});
                m.bindTooltip(approx ? p[3] + ' (approximate location)' : p[3],
                              {direction: 'top', offset: [p[6], p[7] - 7]});
                markers.push(m);
            });
            if (group.addLayers) { group.addLayers(markers); }
            else { markers.forEach(function(m) { group.addLayer(m); }); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, payload: OrgPayload) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapOrgMarkers"
        self.p = payload


class Panel(MacroElement):
    """A box on the map: a legend shown while its layer is on (``follow``), or a panel
    always shown (the title panel); rows with ``data-cnmap-i`` zoom to that feature of
    ``layer``. Folded parts (``details.cnmap-fold``) start closed on a phone."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var map = {{ this._parent.get_name() }};
            var layer = {% if this.layer %}{{ this.layer.get_name() }}{% else %}null{% endif %};
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function() {
                var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                cnmapPanel(map, div, layer);
                return div;
            };
            if (!{{ this.follow|tojson }} || !layer) { ctl.addTo(map); return; }
            var shown = false;
            function sync() {
                var on = map.hasLayer(layer);
                if (on && !shown) { ctl.addTo(map); shown = true; }
                if (!on && shown) { ctl.remove(); shown = false; }
            }
            map.on('layeradd layerremove', sync);
            sync();
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        layer: Any,
        html: str,
        position: str = "bottomleft",
        *,
        follow: bool = True,
        css_class: str = "cnmap-legend-box",
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapPanel"
        self.layer = layer
        self.html = html
        self.position = position
        self.follow = follow
        self.css_class = css_class


class Attribution(MacroElement):
    """Adds the data licences to Leaflet's attribution control (always visible)."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var map = {{ this._parent.get_name() }};
            if (!map.attributionControl) {
                map.attributionControl = L.control.attribution().addTo(map);
            }
            map.attributionControl.addAttribution({{ this.text|tojson }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapAttribution"
        self.text = text


class WardSearch(JSCSSMixin, MacroElement):
    """leaflet-search over a polygon layer; suggestions are written as text, not HTML."""

    _template = inert_template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            var layer = {{ this.layer.get_name() }};
            var map = {{ this._parent.get_name() }};
            var ctl = new L.Control.Search({
                layer: layer,
                propertyName: {{ this.property|tojson }},
                collapsed: true,
                textPlaceholder: {{ this.placeholder|tojson }},
                position: 'topleft',
                initial: false,
                marker: false,
                buildTip: function(text) {
                    var li = L.DomUtil.create('li', '');
                    li.textContent = text;
                    return li;
                },
                moveToLocation: function(latlng, title, map) {
                    map.fitBounds(latlng.layer.getBounds());
                }
            });
            ctl.on('search:locationfound', function(e) {
                if (!map.hasLayer(layer)) { map.addLayer(layer); cnmapRestack(map); }
                layer.resetStyle();
                e.layer.setStyle({color: '#ff7f00', weight: 4});
                e.layer.openTooltip(e.layer.getBounds().getCenter());
            });
            ctl.on('search:collapsed', function() { layer.resetStyle(); });
            map.addControl(ctl);
        })();
        {% endmacro %}
        """
    )
    default_js = list(folium.plugins.Search.default_js)
    default_css = list(folium.plugins.Search.default_css)

    def __init__(self, layer: Any, property: str, placeholder: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # folium is untyped
        self._name = "CnmapWardSearch"
        self.layer = layer
        self.property = property
        self.placeholder = placeholder

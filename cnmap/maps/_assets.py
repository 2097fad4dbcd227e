"""Self-contained HTML: inline the Leaflet scripts and stylesheets a folium map loads from CDNs.

folium's templates load Leaflet and its plugins from public CDNs. :func:`inline_assets`
replaces each ``<script src=...>`` and ``<link rel="stylesheet" href=...>`` of a rendered
page with the same file from ``cnmap/maps/vendor/`` (fetched once from the npm registry by
``scripts/vendor_assets.sh``; MIT / BSD-2-Clause licences kept beside them), turning the
images a stylesheet refers to into ``data:`` URIs. Assets the page does not use (jQuery
unless a script calls it, Bootstrap, the Font Awesome / Glyphicons icon fonts and
Leaflet.awesome-markers unless ``L.AwesomeMarkers`` is used) are dropped. Anything left
that cannot be inlined raises :class:`~cnmap.errors.CnmapError`, so a "self-contained"
file never silently needs the network.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import CnmapError, DataIntegrityError

__all__ = ["VENDOR_DIR", "ASSETS", "inline_assets", "verify_vendor", "external_resources"]

logger = logging.getLogger(__name__)

#: Folder of the vendored JavaScript/CSS files.
VENDOR_DIR = Path(__file__).resolve().parent / "vendor"


@dataclass(frozen=True)
class Asset:
    """One vendored file and the CDN URLs it stands for."""

    pattern: str  # regular expression matched against the URL (search)
    path: str  # relative to VENDOR_DIR
    kind: str  # "js" | "css"


#: URL pattern -> vendored file. Patterns accept any version so that a folium upgrade that
#: bumps a CDN version still inlines (the vendored version is in ``vendor/<pkg>/VERSION``).
ASSETS: tuple[Asset, ...] = (
    Asset(r"/leaflet(@[\w.\-]+)?/dist/leaflet\.js$", "leaflet/lib/leaflet.js", "js"),
    Asset(r"/leaflet(@[\w.\-]+)?/dist/leaflet\.css$", "leaflet/lib/leaflet.css", "css"),
    Asset(
        r"leaflet\.markercluster(@[\w.\-]+)?/([\w.\-]+/)?(dist/)?leaflet\.markercluster(-src)?\.js$",
        "leaflet.markercluster/lib/leaflet.markercluster.js",
        "js",
    ),
    Asset(
        r"leaflet\.markercluster(@[\w.\-]+)?/([\w.\-]+/)?(dist/)?MarkerCluster\.css$",
        "leaflet.markercluster/lib/MarkerCluster.css",
        "css",
    ),
    Asset(
        r"leaflet\.markercluster(@[\w.\-]+)?/([\w.\-]+/)?(dist/)?MarkerCluster\.Default\.css$",
        "leaflet.markercluster/lib/MarkerCluster.Default.css",
        "css",
    ),
    Asset(
        r"leaflet\.fullscreen(@[\w.\-]+)?/(dist/)?Control\.FullScreen(\.min)?\.js$",
        "leaflet.fullscreen/Control.FullScreen.js",
        "js",
    ),
    Asset(
        r"leaflet\.fullscreen(@[\w.\-]+)?/(dist/)?Control\.FullScreen(\.min)?\.css$",
        "leaflet.fullscreen/Control.FullScreen.css",
        "css",
    ),
    Asset(
        r"leaflet-search(@[\w.\-]+)?/dist/leaflet-search(\.min|\.src)?\.js$",
        "leaflet-search/lib/leaflet-search.min.js",
        "js",
    ),
    Asset(
        r"leaflet-search(@[\w.\-]+)?/dist/leaflet-search(\.min|\.src)?\.css$",
        "leaflet-search/lib/leaflet-search.min.css",
        "css",
    ),
    Asset(
        r"jquery[-@/]3\.\d+\.\d+(/dist)?(/jquery)?(\.min)?\.js$", "jquery/lib/jquery.min.js", "js"
    ),
)


@dataclass(frozen=True)
class _Drop:
    pattern: str
    label: str
    needed: Callable[[str], bool]  # given the page's inline scripts


def _never(_: str) -> bool:
    return False


def _uses_awesome(script: str) -> bool:
    return "L.AwesomeMarkers" in script or ".AwesomeMarkers" in script


#: Assets folium always links but a cnmap map does not use; dropped unless ``needed``.
_DROPPABLE: tuple[_Drop, ...] = (
    _Drop(
        r"/bootstrap(@[\w.\-]+)?/dist/(js|css)/bootstrap(\.bundle)?(\.min)?\.(js|css)$",
        "Bootstrap",
        _never,
    ),
    _Drop(
        r"bootstrap/3\.0\.0/css/bootstrap-glyphicons\.css$", "Glyphicons icon font", _uses_awesome
    ),
    _Drop(
        r"fontawesome-free(@[\w.\-]+)?/css/all(\.min)?\.css$",
        "Font Awesome icon font",
        _uses_awesome,
    ),
    _Drop(
        r"Leaflet\.awesome-markers/[\w.\-]+/leaflet\.awesome-markers\.(js|css)$",
        "Leaflet.awesome-markers",
        _uses_awesome,
    ),
    _Drop(r"leaflet\.awesome\.rotate(\.min)?\.css$", "awesome-markers rotation CSS", _uses_awesome),
)

_SCRIPT_SRC = re.compile(
    r"<script\b[^>]*?\bsrc\s*=\s*([\"'])(?P<url>[^\"']+)\1[^>]*>\s*</script>", re.IGNORECASE
)
_LINK_CSS = re.compile(r"<link\b(?P<attrs>[^>]*?)/?>", re.IGNORECASE)
_HREF = re.compile(r"\bhref\s*=\s*([\"'])(?P<url>[^\"']+)\1", re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(?P<body>.*?)</script>", re.I | re.S)
_CSS_URL = re.compile(r"url\(\s*([\"']?)(?P<ref>[^\"')]+)\1\s*\)")
_SOURCE_MAP = re.compile(r"^\s*//[#@]\s*sourceMappingURL=\S+\s*$", re.MULTILINE)
_CSS_SOURCE_MAP = re.compile(r"/\*[#@]\s*sourceMappingURL=[^*]*\*/")


def _is_stylesheet(attrs: str) -> bool:
    return re.search(r"\brel\s*=\s*([\"'])stylesheet\1", attrs, re.IGNORECASE) is not None


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def external_resources(html_text: str) -> list[str]:
    """URLs of the remote scripts and stylesheets a page loads (tiles are not counted)."""
    urls = [m.group("url") for m in _SCRIPT_SRC.finditer(html_text) if _is_remote(m.group("url"))]
    for m in _LINK_CSS.finditer(html_text):
        if _is_stylesheet(m.group("attrs")):
            h = _HREF.search(m.group("attrs"))
            if h and _is_remote(h.group("url")):
                urls.append(h.group("url"))
    return urls


def _match_asset(url: str) -> Asset | None:
    for asset in ASSETS:
        if re.search(asset.pattern, url):
            return asset
    return None


def _match_drop(url: str) -> _Drop | None:
    for drop in _DROPPABLE:
        if re.search(drop.pattern, url):
            return drop
    return None


@cache
def _read_vendor(rel: str) -> str:
    path = VENDOR_DIR / rel
    if not path.is_file():
        raise CnmapError(
            f"vendored asset {path} is missing; re-create cnmap/maps/vendor with "
            "`bash scripts/vendor_assets.sh` (needs npm) or reinstall cnmap"
        )
    return path.read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".svg":
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(rel: str) -> str:
    css = _CSS_SOURCE_MAP.sub("", _read_vendor(rel))
    base = (VENDOR_DIR / rel).parent

    def repl(m: re.Match[str]) -> str:
        ref = m.group("ref")
        if ref.startswith(("data:", "#")):
            return m.group(0)
        if _is_remote(ref):
            raise CnmapError(
                f"vendored stylesheet {rel} refers to the remote resource {ref}; it cannot be "
                "inlined"
            )
        target = (base / ref).resolve()
        if VENDOR_DIR not in target.parents or not target.is_file():
            raise CnmapError(
                f"vendored stylesheet {rel} refers to {ref}, which is not in {VENDOR_DIR}; "
                "re-run scripts/vendor_assets.sh"
            )
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(repl, css).replace("</style", "<\\/style")


def _inline_js(rel: str) -> str:
    js = _SOURCE_MAP.sub("", _read_vendor(rel))
    # inside <script>, "</script" and "<!--" would end or confuse the element
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def inline_assets(html_text: str) -> str:
    """Return ``html_text`` with every remote script and stylesheet inlined or dropped.

    Parameters
    ----------
    html_text
        A page rendered by folium (``m.get_root().render()``).

    Returns
    -------
    str
        The same page with no ``<script src=http...>`` and no remote stylesheet.

    Raises
    ------
    CnmapError
        A remote script or stylesheet is neither vendored nor safe to drop (for example a
        folium plugin cnmap does not vendor, or awesome-markers icons with an icon font);
        the message lists the URLs and the way out (``self_contained=False``).
    """
    inline_scripts = "\n".join(m.group("body") for m in _INLINE_SCRIPT.finditer(html_text))
    unknown: list[str] = []
    blocked: list[str] = []
    done: set[str] = set()

    def handle(url: str, kind: str) -> str | None:
        """Replacement text for a remote url, or None to keep it (not remote)."""
        if not _is_remote(url):
            return None
        asset = _match_asset(url)
        if asset is not None and asset.kind == kind:
            if asset.path in done:  # the same file linked twice
                return ""
            done.add(asset.path)
            if asset.path.startswith("jquery/") and not re.search(
                r"(\$\(|\$\.|jQuery)", inline_scripts
            ):
                logger.debug("dropped unused jQuery (%s)", url)
                return ""
            logger.debug("inlined %s from vendor/%s", url, asset.path)
            if kind == "js":
                return f"<script>/* {asset.path} */\n{_inline_js(asset.path)}\n</script>"
            return f"<style>/* {asset.path} */\n{_inline_css(asset.path)}\n</style>"
        drop = _match_drop(url)
        if drop is not None:
            if drop.needed(inline_scripts):
                blocked.append(f"{url} ({drop.label})")
                return None
            logger.debug("dropped unused %s (%s)", drop.label, url)
            return ""
        unknown.append(url)
        return None

    def script_repl(m: re.Match[str]) -> str:
        out = handle(m.group("url"), "js")
        return m.group(0) if out is None else out

    def link_repl(m: re.Match[str]) -> str:
        attrs = m.group("attrs")
        if not _is_stylesheet(attrs):
            return m.group(0)
        h = _HREF.search(attrs)
        if h is None:
            return m.group(0)
        out = handle(h.group("url"), "css")
        return m.group(0) if out is None else out

    page = _SCRIPT_SRC.sub(script_repl, html_text)
    page = _LINK_CSS.sub(link_repl, page)
    problems = blocked + unknown
    if problems:
        raise CnmapError(
            "save_html(..., self_contained=True) cannot inline these remote scripts or "
            f"stylesheets: {problems}. cnmap vendors Leaflet, Leaflet.markercluster, "
            "Leaflet.fullscreen, leaflet-search and jQuery only (awesome-markers icons need an "
            "icon font: use circle markers). Remove the element that needs them, or save with "
            "self_contained=False (the file then loads them from CDNs)."
        )
    return page


def verify_vendor() -> list[str]:
    """Check every vendored file against ``vendor/SHA256SUMS``.

    Returns
    -------
    list of str
        The relative paths checked.

    Raises
    ------
    DataIntegrityError
        A file is missing or its checksum differs (re-run ``scripts/vendor_assets.sh``).
    """
    sums = VENDOR_DIR / "SHA256SUMS"
    if not sums.is_file():
        raise DataIntegrityError(f"{sums} is missing; re-run scripts/vendor_assets.sh")
    checked = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, rel = line.split(maxsplit=1)
        rel = rel.strip().removeprefix("./")
        path = VENDOR_DIR / rel
        if not path.is_file():
            raise DataIntegrityError(
                f"vendored file {path} is missing; re-run scripts/vendor_assets.sh"
            )
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != digest:
            raise DataIntegrityError(
                f"vendored file {path} has sha256 {got}, expected {digest} (SHA256SUMS); "
                "re-run scripts/vendor_assets.sh"
            )
        checked.append(rel)
    return checked

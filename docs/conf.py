"""Sphinx configuration for the cnmap documentation.

Build (warnings are errors)::

    bash scripts/build_docs.sh          # = sphinx-build -W --keep-going -b html docs docs/_build/html

Three lists below make the site easy to extend:

- ``API_MODULES``: the modules of the API reference (``docs/api.md``), in order, with a title.
  A module that does not exist yet is left out (and logged); a module that exists but fails
  to import is an error. Public modules of ``cnmap`` missing from the list are appended.
- ``TOPIC_ORDER``: the order of the topic pages (``docs/*.md`` written beside the code).
  Every other top-level ``docs/*.md`` page is added after them automatically, so a new page
  never breaks the build with "document isn't included in any toctree".
- Notebooks: every ``notebooks/*.ipynb`` (reached through the ``docs/notebooks`` symlink) is
  rendered from its **stored outputs** (``nb_execution_mode = "off"``); the notebooks are
  executed by ``tests/test_notebooks.py``, not by the docs build.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

# the docs import cnmap but never fetch data
os.environ.setdefault("CNMAP_OFFLINE", "1")

log = logging.getLogger("cnmap.docs")

# -- project -----------------------------------------------------------------------------------

project = "cnmap"
author = "cnmap developers"
copyright = "cnmap developers; data © their publishers (see Data and licences)"


def _version() -> str:
    text = (ROOT / "cnmap" / "__init__.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "0"


release = version = _version()

# -- extensions --------------------------------------------------------------------------------

extensions = [
    "myst_nb",  # Markdown (MyST) pages and notebooks; includes myst_parser
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
# only the top-level notebooks/*.ipynb are pages (see notebook_pages)
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store",
                    "notebooks/*.md", "notebooks/*/**"]
templates_path: list[str] = []

# MyST: GitHub-style Markdown as the pages are written (tables, ``$`` is not math, heading
# anchors for links like [x](data.md#attribution)).
myst_enable_extensions = ["colon_fence", "deflist", "linkify", "substitution", "attrs_inline"]
myst_heading_anchors = 4
try:  # linkify needs linkify-it-py; without it, bare URLs simply stay text
    import linkify_it  # noqa: F401
except ImportError:
    myst_enable_extensions.remove("linkify")

# Notebooks: render the outputs stored in the .ipynb (executed by tests/test_notebooks.py).
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "remove"  # log lines (INFO/WARNING of cnmap) are not part of the story

# autodoc / numpydoc: strict but not absurd. The docstrings are numpydoc without types in the
# text (the types are the signatures' annotations).
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
autodoc_class_signature = "separated"
autosummary_generate = False  # the API page is one page built from API_MODULES (see below)
numpydoc_show_class_members = False  # autodoc lists members; no autosummary stubs
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # no style lint here (ruff/numpydoc lint elsewhere)

nitpicky = False  # numpy/pandas type names in prose would otherwise all need targets

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}  # offline build: no inventories

# Genuinely unfixable third-party noise only (none needed so far).
suppress_warnings: list[str] = []

# -- HTML --------------------------------------------------------------------------------------

html_title = f"cnmap {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        "navbar_align": "left",
        "footer_start": ["copyright"],
        "footer_end": ["sphinx-version"],
    }
except ImportError:  # the docs still build with Sphinx's own theme
    html_theme = "alabaster"

# -- what goes into the site --------------------------------------------------------------------

#: API reference, in this order. Add a module here to document it.
API_MODULES: list[tuple[str, str]] = [
    ("cnmap", "Top-level names"),
    ("cnmap.area", "The area container"),
    ("cnmap.data", "Data catalogue, fetching and loaders"),
    ("cnmap.iod", "Reading the English Indices of Deprivation (File 7)"),
    ("cnmap.deprivation", "MHCLG summary measures"),
    ("cnmap.io", "Reading organisation lists"),
    ("cnmap.postcodes", "Postcodes"),
    ("cnmap.geo", "Projections and spatial joins"),
    ("cnmap.network", "Walking networks, snapping and shortest paths"),
    ("cnmap.residents", "Where people live"),
    ("cnmap.coverage", "Walking coverage"),
    ("cnmap.thin", "Thin infrastructure"),
    ("cnmap.hotspots", "Hot and cold spots (Getis-Ord Gi*, local Moran)"),
    ("cnmap.reach", "Who reaches what: source-to-point walking distances"),
    ("cnmap.hours", "Opening hours"),
    ("cnmap.basket", "Basket coverage"),
    ("cnmap.scenarios", "Scenarios, comparisons and next-best sites"),
    ("cnmap.maps", "Interactive and static maps"),
    ("cnmap.export", "Writing tables"),
    ("cnmap.pipeline", "The end-to-end run"),
    ("cnmap.cli", "The command line"),
    ("cnmap.errors", "Exceptions"),
    ("cnmap.columns", "Column names"),
    ("cnmap.settings", "Settings (environment variables)"),
]

#: Order of the topic pages (docs/*.md); pages not listed follow in alphabetical order,
#: with ``benchmarks`` last.
TOPIC_ORDER = ["data", "organisations", "deprivation", "network", "coverage", "thin", "maps",
               "scenarios", "hotspots", "reach", "hours", "basket", "export", "cli"]
OWN_PAGES = {"index", "api"}  # not topics
LAST_PAGES = ["benchmarks"]


def module_exists(name: str) -> bool:
    """True when ``name`` is a real module or package (not a namespace-only folder)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def discovered_modules() -> list[str]:
    """Public top-level modules and packages of cnmap (``cnmap/<name>.py``, ``cnmap/<name>/``)."""
    import pkgutil

    import cnmap

    names = [f"cnmap.{m.name}" for m in pkgutil.iter_modules(cnmap.__path__)
             if not m.name.startswith("_")]
    return sorted(n for n in names if module_exists(n))


def _first_line(module: str) -> str:
    mod = importlib.import_module(module)
    lines = (mod.__doc__ or "").strip().splitlines()
    return lines[0].rstrip(".").split(": ")[0] if lines else module


def api_modules() -> list[tuple[str, str]]:
    """The modules of the API page: ``API_MODULES`` that exist, then any other public module
    of cnmap (so a new module is documented even before it is added to the list)."""
    present = [(m, t) for m, t in API_MODULES if module_exists(m)]
    missing = [m for m, _ in API_MODULES if not module_exists(m)]
    if missing:
        log.info("API reference: modules not (yet) present, left out: %s", ", ".join(missing))
    listed = {m for m, _ in API_MODULES}
    extra = [(m, _first_line(m)) for m in discovered_modules() if m not in listed]
    return present + extra


def topic_pages() -> list[str]:
    pages = {p.stem for p in DOCS.glob("*.md")} - OWN_PAGES
    first = [p for p in TOPIC_ORDER if p in pages]
    last = [p for p in LAST_PAGES if p in pages]
    rest = sorted(pages - set(first) - set(last))
    return first + rest + last


def notebook_pages() -> list[str]:
    folder = DOCS / "notebooks"
    if not folder.is_dir():
        return []
    return [f"notebooks/{p.stem}" for p in sorted(folder.glob("*.ipynb"))]


_RST_ROLE = re.compile(r":(?:py:)?(func|class|meth|attr|data|mod|obj|exc|const):`([^`]+)`")


def _summary(obj: object) -> str:
    """First paragraph of a docstring, as one line of MyST (reST roles converted)."""
    doc = inspect.getdoc(obj) or ""
    para = " ".join(doc.split("\n\n", 1)[0].split())
    para = _RST_ROLE.sub(lambda m: f"{{py:{m.group(1)}}}`{m.group(2)}`", para)
    return para.replace("|", "\\|")


def _top_level_table() -> str:
    """The names ``import cnmap`` exposes, linked to where they are documented."""
    import cnmap

    rows = ["| name | what |", "|---|---|"]
    for name, module in cnmap._EXPORTS.items():  # noqa: SLF001 - the lazy export table
        if not module_exists(module):
            continue
        obj = getattr(importlib.import_module(module), name, None)
        if obj is None:
            continue
        role = "class" if isinstance(obj, type) else "func"
        rows.append(f"| {{py:{role}}}`cnmap.{name} <{module}.{name}>` | {_summary(obj)} |")
    return "\n".join(rows)


def _api_markdown() -> str:
    parts: list[str] = []
    for module, title in api_modules():
        if module == "cnmap":
            parts += [f"## {title}: `cnmap`", "", "```{eval-rst}", ".. automodule:: cnmap",
                      "   :no-members:", "```", "",
                      "`import cnmap` is fast: these names are imported on first use from the "
                      "modules below.", "", _top_level_table(), ""]
            continue
        parts += [f"## `{module}`: {title}", "", "```{eval-rst}",
                  f".. automodule:: {module}", "```", ""]
    return "\n".join(parts)


def _toctree_lines(pages: list[str]) -> str:
    return "\n".join(pages)


def _on_source_read(app, docname: str, source: list[str]) -> None:  # noqa: ANN001
    text = source[0]
    if "<!-- cnmap:" not in text:
        return
    text = text.replace("<!-- cnmap:topics -->", _toctree_lines(topic_pages()))
    text = text.replace("<!-- cnmap:notebooks -->", _toctree_lines(notebook_pages()))
    text = text.replace("<!-- cnmap:api -->", _api_markdown())
    source[0] = text


def _resolve_top_level(app, env, node, contnode):  # noqa: ANN001, ANN202
    """Resolve ``cnmap.<name>`` references (``:func:`cnmap.load_area```) to the module where
    the name is defined (``cnmap.data.load_area``)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module, _, name = target.rpartition(".")
    if module != "cnmap":
        return None
    import cnmap

    home = cnmap._EXPORTS.get(name)  # noqa: SLF001
    if home is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node["reftype"],
                               f"{home}.{name}", node, contnode)


def setup(app):  # noqa: ANN001, ANN201
    app.connect("source-read", _on_source_read)
    app.connect("missing-reference", _resolve_top_level)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

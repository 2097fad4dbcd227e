"""Text that reaches a folium / branca template, made inert (no Jinja2 evaluation).

branca renders every map element twice: an element's template is rendered, and the text it
produces is wrapped in a new ``Element`` whose template is that text, rendered again when the
page is written. Anything that looks like Jinja2 in the data (``{{ 7*7 }}``, ``{% raw %}``,
``{# ...``) is therefore evaluated (or crashes the run) unless it is neutralised before it
enters a template. Every Jinja2 delimiter starts with ``{``, so:

- :func:`inert_json` is the one serialiser for data written into the page's scripts: JSON in
  which ``{``, ``}``, ``#``, ``%``, ``<``, ``>``, ``&`` and ``'`` inside strings are written as
  ``\\u00XX`` escapes. JavaScript reads back exactly the original text; no template delimiter
  and no ``</script>`` can appear. It is the ``tojson`` filter of every cnmap element template
  (:func:`cnmap.maps._templates.inert_template`), so a template cannot write data any other way;
- :func:`inert_html` escapes text for HTML (tooltips, popups, legends, layer names) and writes
  ``{`` and ``}`` as the character references ``&#123;`` and ``&#125;``, which the browser
  shows as the braces themselves;
- :func:`cnmap.maps._templates.inert_template` builds an element template and refuses, when the class is defined,
  any ``{{ ... }}`` output that is not ``|tojson``, ``get_name()`` or a declared constant.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "TEMPLATE_STARTS",
    "UnsafeTemplateError",
    "check_template",
    "inert_html",
    "inert_json",
]

#: The openings of Jinja2 expressions, statements and comments.
TEMPLATE_STARTS: tuple[str, ...] = ("{{", "{%", "{#")

_JSON_STRING_ESCAPES = str.maketrans({c: f"\\u{ord(c):04x}" for c in "{}#%<>&'"})
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_HTML_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


class UnsafeTemplateError(RuntimeError):
    """A map element template writes a value without :func:`inert_json` (a cnmap bug)."""


def _escape_string_literal(match: re.Match[str]) -> str:
    return match.group(0).translate(_JSON_STRING_ESCAPES)


def inert_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` and inert as a Jinja2 template.

    Inside every JSON string, ``{ } # % < > & '`` are written as ``\\u007b``-style escapes
    (non-ASCII as ``\\uXXXX`` too), so that ``JSON.parse`` / JavaScript give back exactly the
    original text. Outside strings, JSON only has ``{`` before a key (``{"``) or ``}``, so no
    ``{{``, ``{%`` or ``{#`` can remain; this is checked.

    Raises
    ------
    UnsafeTemplateError
        The result would contain a template delimiter (cannot happen for JSON values).
    """
    text = _JSON_STRING.sub(_escape_string_literal, json.dumps(value, ensure_ascii=True))
    if any(mark in text for mark in TEMPLATE_STARTS):  # pragma: no cover - defensive
        raise UnsafeTemplateError(f"inert_json left a template delimiter in {text[:80]!r}")
    return text


def inert_html(value: object) -> str:
    """``str(value)`` as HTML text: ``< > & " '`` escaped, ``{ }`` as ``&#123;`` ``&#125;``.

    The browser shows the text exactly as written; no Jinja2 delimiter remains.
    """
    return html.escape(str(value), quote=True).translate(_HTML_BRACES)


def _allowed_output(node: Any, constants: frozenset[str]) -> bool:
    from jinja2 import nodes

    if isinstance(node, nodes.TemplateData):
        return True
    if isinstance(node, nodes.Filter):
        return node.name == "tojson"
    if isinstance(node, nodes.Call):
        return isinstance(node.node, nodes.Getattr) and node.node.attr == "get_name"
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.node.name == "this" and node.attr in constants
    return False


def check_template(source: str, constants: Iterable[str] = ()) -> None:
    """Refuse a template that writes anything but ``|tojson``, ``get_name()`` or constants.

    ``constants`` names attributes of ``this`` that hold cnmap's own fixed text (its
    stylesheet and script), which may be written as they are.

    Raises
    ------
    UnsafeTemplateError
        Naming the first offending expression.
    """
    from jinja2 import Environment, nodes

    allowed = frozenset(constants)
    for output in Environment().parse(source).find_all(nodes.Output):
        for node in output.nodes:
            if not _allowed_output(node, allowed):
                raise UnsafeTemplateError(
                    f"map element template writes {node!r} without |tojson; data must be "
                    "written with inert_json (cnmap.maps._safe)"
                )

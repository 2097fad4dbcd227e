"""Templates of cnmap's map elements: folium's template classes with cnmap's ``tojson``
(:func:`cnmap.maps._safe.inert_json`), and :func:`inert_template`, which checks a template
(:func:`cnmap.maps._safe.check_template`) before building it. Imports folium: the element
modules that use it are imported on first use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from folium.template import Environment, Template

from ._safe import check_template, inert_json

__all__ = ["InertEnvironment", "InertTemplate", "inert_template"]


class InertEnvironment(Environment):
    """folium's template environment whose ``tojson`` filter is :func:`inert_json`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # jinja2 via folium
        self.filters["tojson"] = inert_json


class InertTemplate(Template):
    """A folium template rendered in :class:`InertEnvironment`."""

    environment_class = InertEnvironment


def inert_template(source: str, constants: Iterable[str] = ()) -> Any:
    """A folium template for a cnmap map element, checked by
    :func:`cnmap.maps._safe.check_template`; its ``tojson`` filter is
    :func:`cnmap.maps._safe.inert_json`."""
    check_template(source, constants)
    return InertTemplate(source)

"""folium's template classes with cnmap's ``tojson`` (imported by :func:`cnmap.maps._safe.inert_template`
on first use, so that importing :mod:`cnmap.maps._safe` does not import folium)."""

from __future__ import annotations

from typing import Any

from folium.template import Environment, Template

from ._safe import inert_json

__all__ = ["InertEnvironment", "InertTemplate"]


class InertEnvironment(Environment):
    """folium's template environment whose ``tojson`` filter is :func:`inert_json`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # jinja2 via folium
        self.filters["tojson"] = inert_json


class InertTemplate(Template):
    """A folium template rendered in :class:`InertEnvironment`."""

    environment_class = InertEnvironment

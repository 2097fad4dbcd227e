"""What the interactive map's elements write into the page: the payloads that
:mod:`cnmap.maps.interactive` builds and :mod:`cnmap.maps._elements` renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AreaPayload", "SharedGeometry", "OrgPayload"]


@dataclass
class AreaPayload:
    """What one polygon layer writes into the page.

    ``style_index[i]`` picks ``styles[k]`` for feature ``i`` (-1: not drawn); ``rows[i]``
    are the escaped tooltip values under ``labels`` (None: row left out). ``options``:
    ``interactive`` (hover tooltip), ``group`` (``"lsoa"``: an area fill that the ward
    outlines let the hover through to; ``"wards"``; ``"catchments"``) and ``className`` of
    its SVG paths.
    """

    key: str
    name: str
    styles: list[dict[str, Any]]
    style_index: list[int]
    labels: list[str]
    rows: list[list[str | None]]
    highlight: dict[str, Any] | None = None
    legend: str | None = None
    legend_position: str = "bottomright"
    options: dict[str, Any] = field(
        default_factory=lambda: {"interactive": True, "group": "lsoa", "className": "cnmap-area"}
    )


@dataclass
class SharedGeometry:
    """Features written once and shared by several layers (properties: ``i``, ``t``...)."""

    fc: dict[str, Any]
    n: int


@dataclass
class OrgPayload:
    """Organisation markers: ``points[k] = [lat, lon, symbol, name, rows, flags, dx, dy]``
    (symbol: index into ``colours`` / ``shapes``; flags: 1 placed approximately, 2 placed far
    from its address postcode; dx, dy: pixel offset of a marker that shares its point with
    others)."""

    name: str
    colours: list[str]
    labels: list[str]
    points: list[list[Any]]
    shapes: list[str] = field(default_factory=list)
    legend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

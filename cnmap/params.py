"""Typed parameters recorded with every result.

Each result keeps its parameters as a typed, frozen dataclass (``result.parameters``) and as a
plain dict (``result.params``, the same keys in the same order) for outputs that write JSON or
tables and for code that reads keys. New code reads attributes:

>>> p = CoverageParams(mode="crow_flies", minutes=(15,), speed_kmh=4.8, persona=None,
...                    metres=(1200.0,), max_snap_m=500.0, residents="centroids",
...                    n_residential_points=3, population=300.0, type_col=None,
...                    organisation_types=(), n_organisations=1, n_organisations_placed=1,
...                    detour_factor=1.3, detour_calibration=None, lad_code="X",
...                    lsoa_vintage=2011, iod=2019, network=None)
>>> p.speed_kmh, p.as_dict()["minutes"]
(4.8, [15])
>>> CoverageParams.from_mapping(p.as_dict()) == p
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cnmap.errors import ValidationError

__all__ = ["CoverageParams", "ThinRule", "ThinParams"]

_P = TypeVar("_P", bound="_Record")

#: How the coverage places residents in wards (recorded with every coverage result).
WARD_METHOD = "residential point location (nearest ward for border slivers)"


class _Record:
    """A frozen dataclass written as a dict: tuples become lists, key order = field order."""

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (tuples as lists), keys in field order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_mapping(cls: type[_P], params: Mapping[str, Any]) -> _P:
        """The typed parameters from a dict written by :meth:`as_dict` (other keys ignored)."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        missing = [n for n in names if n not in params]
        if missing:
            raise ValidationError(
                f"{cls.__name__}: the parameters have no {missing} (keys: {list(params)})"
            )
        values = {n: tuple(params[n]) if isinstance(params[n], list) else params[n] for n in names}
        return cls(**values)


@dataclass(frozen=True)
class CoverageParams(_Record):
    """Every parameter that changes a coverage result, and the data vintages."""

    mode: str
    minutes: tuple[int | float, ...]
    speed_kmh: float
    persona: str | None
    metres: tuple[float, ...]
    max_snap_m: float
    residents: str
    n_residential_points: int
    population: float
    type_col: str | None
    organisation_types: tuple[str, ...]
    n_organisations: int
    n_organisations_placed: int
    detour_factor: float | None
    detour_calibration: dict[str, float] | None
    lad_code: str
    lsoa_vintage: int | None
    iod: int | None
    network: dict[str, Any] | None
    ward_method: str = WARD_METHOD
    snap_coverage: dict[str, Any] | None = None


@dataclass(frozen=True)
class ThinRule:
    """The validated options of :func:`cnmap.thin.thin_areas`, read by each of its steps."""

    minutes: int | float
    domain: str
    domain_requested: str
    service: str | None
    domain_label: str
    iod: int
    n_lsoas_england: int
    max_decile: int
    min_share_covered: float
    left_behind_pct: float
    ward_rule: str
    org_type: str | None
    org_label: str
    provision: str
    provision_order: tuple[str, ...]


@dataclass(frozen=True)
class ThinParams(_Record):
    """Every parameter of a thin-infrastructure classification and of its coverage."""

    minutes: int | float
    metres: float | None
    domain: str
    domain_requested: str
    service: str | None
    domain_label: str
    iod: int
    n_lsoas_england: int
    max_decile: int
    min_share_covered: float
    left_behind_pct: float
    left_behind_n_wards: int
    org_type: str | None
    org_label: str
    provision: str
    provision_order: tuple[str, ...]
    rule: str
    ward_rule: str
    ward_rule_text: str
    ward_deprivation: str
    cold_spots: dict[str, Any] | None
    coverage: dict[str, Any]

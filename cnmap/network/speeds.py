"""Walking speeds: convert between minutes and metres with an explicit speed.

The speed is always an argument; :data:`WALKING_SPEEDS` names sourced personas.

Sources
-------
- ``standard`` 4.8 km/h (80 m a minute, so 15 minutes = 1,200 m): the usual figure in UK
  accessibility studies, "accepted as the speed at which people choose to walk in normal
  conditions" (e.g. Thurrock Council, *Study of travel access in and around Thurrock*, travel
  types, https://www.thurrock.gov.uk/study-of-travel-access-in-and-around-thurrock/travel-types).
- ``older`` 3.3 km/h (0.92 m/s): between the mean normal walking speed of men aged 65+ in the
  Health Survey for England, 0.9 m/s (Asher L, Aresu M, Falaschetti E, Mindell J. *Most older
  pedestrians are unable to cross the road in time: a cross-sectional study.* Age and Ageing
  2012;41:690-694, doi:10.1093/ageing/afs076) and healthy adults aged 80-99, 0.94-0.97 m/s
  (Bohannon RW, Andrews AW. *Normal walking speed: a descriptive meta-analysis.*
  Physiotherapy 2011;97:182-189, doi:10.1016/j.physio.2010.12.004). Women aged 65+ in Asher
  et al. averaged 0.8 m/s (2.9 km/h), so this persona is still generous for many.
- ``less_mobile`` 2.7 km/h (0.76 m/s): mean speed of 768 adults aged 65+ at risk of
  mobility-related disability in English cities (Western M, Stathi A, et al., University of
  Bath, *Are pedestrian crossings in the UK fit for purpose? Comparing the walking speed of
  older adults at risk for mobility-related disability...*,
  https://researchportal.bath.ac.uk/en/publications/are-pedestrian-crossings-in-the-uk-fit-for-purpose-comparing-the-/).

No wheelchair or pushchair persona is given: no UK source with a representative
door-to-door speed was found; pass a speed explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from cnmap import _check
from cnmap.errors import ValidationError

__all__ = [
    "WALKING_SPEEDS",
    "DEFAULT_SPEED_KMH",
    "metres_for_minutes",
    "minutes_for_metres",
    "resolve_speed",
    "walking_speed",
]

#: Default walking speed (km/h): 80 m a minute.
DEFAULT_SPEED_KMH = 4.8

#: Named walking personas (km/h); see the module docstring for sources.
WALKING_SPEEDS: Mapping[str, float] = MappingProxyType(
    {
        "standard": 4.8,
        "older": 3.3,
        "less_mobile": 2.7,
    }
)


def walking_speed(speed: float | str) -> float:
    """A speed in km/h from a number or a persona name in :data:`WALKING_SPEEDS`."""
    if isinstance(speed, str):
        try:
            return float(WALKING_SPEEDS[speed])
        except KeyError:
            raise ValidationError(
                f"unknown walking persona {speed!r}; use one of "
                f"{sorted(WALKING_SPEEDS)} or a speed in km/h"
            ) from None
    s = float(speed)
    if not np.isfinite(s) or s <= 0:
        raise ValidationError(f"speed_kmh must be a positive number of km/h, got {speed!r}")
    return s


def resolve_speed(speed_kmh: float | None, persona: str | None) -> tuple[float, str | None]:
    """The walking speed of a run from its ``speed_kmh`` and ``persona`` arguments.

    Parameters
    ----------
    speed_kmh
        A speed in km/h, or None for the persona's (or :data:`DEFAULT_SPEED_KMH`).
    persona
        A name in :data:`WALKING_SPEEDS`, or None.

    Returns
    -------
    tuple of float and str or None
        The speed in km/h and the persona used (None when the speed was given or defaulted).

    Raises
    ------
    ValidationError
        For a speed that is not a positive number of km/h, an unknown persona, or a persona
        and a different speed given together.

    Examples
    --------
    >>> resolve_speed(None, "older")
    (3.3, 'older')
    >>> resolve_speed(None, None)
    (4.8, None)
    """
    persona = _check.optional_text("persona", persona, what="a walking persona name")
    speed = None if speed_kmh is None else _check.speed_kmh("speed_kmh", speed_kmh)
    if persona is None:
        return (DEFAULT_SPEED_KMH if speed is None else speed), None
    if persona not in WALKING_SPEEDS:
        raise ValidationError(
            f"persona={persona!r} is unknown; choose one of {sorted(WALKING_SPEEDS)} or give "
            "speed_kmh"
        )
    known = float(WALKING_SPEEDS[persona])
    if speed is not None and not np.isclose(speed, known):
        raise ValidationError(
            f"persona={persona!r} walks at {known} km/h but "
            f"speed_kmh={speed_kmh} was also given; give one of them"
        )
    return known, persona


def metres_for_minutes(minutes: float | np.ndarray, speed_kmh: float | str) -> float | np.ndarray:
    """Distance walked in ``minutes`` at ``speed_kmh`` (15 min at 4.8 km/h = 1,200 m)."""
    m = np.asarray(minutes, dtype=np.float64)
    if (m < 0).any():
        raise ValidationError(f"minutes must be >= 0, got {minutes!r}")
    out = m * walking_speed(speed_kmh) * 1000.0 / 60.0
    return float(out) if out.ndim == 0 else out


def minutes_for_metres(metres: float | np.ndarray, speed_kmh: float | str) -> float | np.ndarray:
    """Minutes to walk ``metres`` at ``speed_kmh`` (inf stays inf)."""
    d = np.asarray(metres, dtype=np.float64)
    out = d * 60.0 / (walking_speed(speed_kmh) * 1000.0)
    return float(out) if out.ndim == 0 else out

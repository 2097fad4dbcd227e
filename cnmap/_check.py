"""Argument checks shared by the public functions (and by config schemas).

Each check takes the argument's name and value, returns the value in a normal form, and
raises :class:`cnmap.errors.ValidationError` naming the argument, the value given and what to
give instead. The rules are strict on type: a string such as ``"500"`` or ``"fast"`` is not a
number, and a boolean is not a number either (``True`` would otherwise be 1 minute).

Examples
--------
>>> positive_number("max_snap_m", 500, unit="metres")
500.0
>>> minutes_tuple("minutes", [15, 5, 15.0])
(5, 15)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cnmap.errors import ValidationError

__all__ = [
    "MAX_MINUTES",
    "MAX_SPEED_KMH",
    "is_number",
    "number",
    "positive_number",
    "non_negative_number",
    "minutes_tuple",
    "speed_kmh",
    "optional_text",
    "flag",
]

#: Longest time limit accepted, in minutes (a day's walk): larger values are typing mistakes
#: and would overflow the distance arithmetic (``1e308`` minutes is not a finite distance).
MAX_MINUTES = 1440.0

#: Fastest speed accepted, in km/h: cnmap models walking (and at most cycling).
MAX_SPEED_KMH = 100.0


def _show(value: Any) -> str:
    """A short repr of a value for messages (a huge string is cut)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_number(value: Any) -> bool:
    """True for a real number (int, float, numpy number, Fraction); False for a bool, a
    string, None or anything else."""
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, numbers.Real)


def number(name: str, value: Any, *, unit: str) -> float:
    """``value`` as a finite float, or a ValidationError naming ``name``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not is_number(value):
        kind = "a boolean" if isinstance(value, bool | np.bool_) else type(value).__name__
        hint = " (write it without quotes)" if isinstance(value, str) else ""
        raise ValidationError(
            f"{name}={_show(value)} is {kind}, not a number of {unit}; give a number{hint}"
        )
    f = float(value)
    if not math.isfinite(f):
        raise ValidationError(
            f"{name}={_show(value)} is not a finite number of {unit}; give a finite number"
        )
    return f


def positive_number(name: str, value: Any, *, unit: str, maximum: float | None = None) -> float:
    """A finite number > 0 (and <= ``maximum`` when given)."""
    f = number(name, value, unit=unit)
    if f <= 0:
        raise ValidationError(f"{name}={_show(value)} must be a positive number of {unit} (> 0)")
    if maximum is not None and f > maximum:
        raise ValidationError(
            f"{name}={_show(value)} is more than {maximum:g} {unit}, the "
            f"largest accepted; give a value up to {maximum:g}"
        )
    return f


def non_negative_number(name: str, value: Any, *, unit: str) -> float:
    """A finite number >= 0."""
    f = number(name, value, unit=unit)
    if f < 0:
        raise ValidationError(f"{name}={_show(value)} must be a number of {unit} >= 0")
    return f


def _minute_values(name: str, value: Any) -> list[Any]:
    if value is None:
        raise ValidationError(
            f"{name}=None: give one or more time limits in minutes, e.g. "
            f"{name}=15 or {name}=[5, 10, 15]"
        )
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if is_number(value) or isinstance(value, bool | np.bool_):
        return [value]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{name}={_show(value)} is {type(value).__name__}, not time "
            f"limits; give a number of minutes or a list, e.g. [5, 10, 15]"
        )
    vals = list(value)
    if not vals:
        raise ValidationError(
            f"{name} is empty: give one or more time limits, e.g. [5, 10, 15, 20]"
        )
    return vals


def minutes_tuple(name: str, value: Any) -> tuple[int | float, ...]:
    """One time limit or several, in minutes: sorted, without repeats, whole numbers as int.

    Each must be a number (not a string or a boolean), > 0 and <= :data:`MAX_MINUTES`.
    """
    out: list[int | float] = []
    for v in _minute_values(name, value):
        try:
            f = positive_number(name, v, unit="minutes", maximum=MAX_MINUTES)
        except ValidationError as exc:
            if v is value:
                raise
            raise ValidationError(f"{name}={_show(value)}: {exc}") from None
        out.append(int(f) if f.is_integer() else f)
    return tuple(sorted(set(out)))


def speed_kmh(name: str, value: Any) -> float:
    """A walking speed in km/h: a number > 0 and <= :data:`MAX_SPEED_KMH`."""
    return positive_number(name, value, unit="km/h", maximum=MAX_SPEED_KMH)


def optional_text(name: str, value: Any, *, what: str) -> str | None:
    """None or a string; anything else is a ValidationError naming ``name``."""
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(
        f"{name}={_show(value)} is {type(value).__name__}; give {what} as text (a string) or None"
    )


def flag(name: str, value: Any) -> bool:
    """A true boolean: ``"false"`` or ``0`` is not accepted as False."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ValidationError(f"{name}={_show(value)} is {type(value).__name__}; give True or False")

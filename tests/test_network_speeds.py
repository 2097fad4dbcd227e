"""Walking speeds and the minutes <-> metres conversions."""

from __future__ import annotations

import numpy as np
import pytest

import cnmap.network as cn
from cnmap.errors import ValidationError


def test_fifteen_minutes_at_standard_speed_is_1200_m() -> None:
    assert cn.metres_for_minutes(15, 4.8) == 1200.0
    assert cn.metres_for_minutes(15, "standard") == 1200.0
    assert cn.minutes_for_metres(1200, 4.8) == 15.0
    assert cn.DEFAULT_SPEED_KMH == 4.8


def test_personas() -> None:
    assert dict(cn.WALKING_SPEEDS) == {"standard": 4.8, "older": 3.3, "less_mobile": 2.7}
    assert cn.metres_for_minutes(15, "older") == pytest.approx(825.0)
    assert cn.metres_for_minutes(10, "less_mobile") == pytest.approx(450.0)
    with pytest.raises(TypeError):
        cn.WALKING_SPEEDS["fast"] = 6.0  # type: ignore[index]


def test_vectorised_and_inf() -> None:
    np.testing.assert_allclose(
        cn.metres_for_minutes(np.array([5, 10, 15, 20]), 4.8), [400, 800, 1200, 1600]
    )
    out = cn.minutes_for_metres(np.array([0.0, 80.0, np.inf]), 4.8)
    np.testing.assert_array_equal(out, [0.0, 1.0, np.inf])


def test_speed_errors() -> None:
    with pytest.raises(ValidationError, match="unknown walking persona"):
        cn.metres_for_minutes(15, "sprinter")
    with pytest.raises(ValidationError, match="positive"):
        cn.metres_for_minutes(15, 0)
    with pytest.raises(ValidationError, match="minutes must be >= 0"):
        cn.metres_for_minutes(-1, 4.8)


def test_resolve_speed_from_a_speed_or_a_persona() -> None:
    from cnmap.network.speeds import resolve_speed

    assert resolve_speed(None, None) == (4.8, None)
    assert resolve_speed(3.0, None) == (3.0, None)
    assert resolve_speed(None, "less_mobile") == (2.7, "less_mobile")
    assert resolve_speed(3.3, "older") == (3.3, "older")  # the same speed twice is fine
    with pytest.raises(ValidationError, match="persona='jogger' is unknown"):
        resolve_speed(None, "jogger")
    with pytest.raises(ValidationError, match="walks at 3.3 km/h but speed_kmh=5"):
        resolve_speed(5, "older")
    with pytest.raises(ValidationError, match="speed_kmh"):
        resolve_speed(-1.0, None)

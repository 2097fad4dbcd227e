"""tqdm progress bars that can be switched off (``CNMAP_PROGRESS=0`` or ``progress=False``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from cnmap import settings

T = TypeVar("T")


def progress(
    iterable: Iterable[T], *, desc: str, total: int | None = None, enabled: bool | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar unless progress bars are disabled."""
    show = settings.progress_enabled() if enabled is None else enabled
    if not show:
        yield from iterable
        return
    yield from tqdm(iterable, desc=desc, total=total, leave=False)

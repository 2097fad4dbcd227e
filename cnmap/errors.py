"""Public exception hierarchy.

Every error raised by cnmap on bad input or missing data is a :class:`CnmapError`, and also
an instance of the matching built-in exception, so ``except ValueError`` keeps working.
Messages name the file, row and column concerned and say how to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "CnmapError",
    "ValidationError",
    "MissingColumnError",
    "CRSError",
    "UnknownAreaError",
    "DataFetchError",
    "DataIntegrityError",
    "CacheFolderError",
    "GraphError",
    "OptionalDependencyError",
]


class CnmapError(Exception):
    """Base class of every cnmap error."""


class ValidationError(CnmapError, ValueError):
    """Input data or an argument is malformed (names the row/column and the fix)."""


class MissingColumnError(ValidationError):
    """A required column is absent from a table."""


class CRSError(CnmapError, ValueError):
    """A coordinate reference system is missing, unknown or unsuitable."""


class UnknownAreaError(ValidationError, LookupError):
    """A local authority (or other area) code is not known to the data."""


class DataFetchError(CnmapError, OSError):
    """A dataset could not be obtained from cache, mirror or publisher."""


class DataIntegrityError(DataFetchError):
    """A downloaded or cached file failed verification (size, checksum or structure)."""


class CacheFolderError(DataFetchError):
    """The cache folder cannot be used: it is a file, cannot be created, is read-only, or
    holds a folder where a file belongs.

    A :class:`DataFetchError` (code catching that keeps working), but the fix is the user's:
    choose another folder with ``CNMAP_CACHE_DIR``. The ``cnmap`` command therefore answers it
    as bad input (exit status 2), not as data that cannot be fetched (3).
    Also importable from :mod:`cnmap.settings`.
    """


class GraphError(CnmapError, ValueError):
    """A street network is malformed or unusable for routing."""


class OptionalDependencyError(CnmapError, ImportError):
    """An optional dependency is needed for this feature; the message names the extra."""

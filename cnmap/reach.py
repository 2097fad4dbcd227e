"""Who reaches what: :func:`reach_matrix` (walking distance from every source to every point
within a cutoff, a sparse matrix) and its straight-line twin :func:`crow_flies_reach_matrix`.

They live in :mod:`cnmap.network.reach`; this module keeps their old import path.
"""

from __future__ import annotations

from cnmap.network.reach import crow_flies_reach_matrix, reach_matrix

__all__ = ["reach_matrix", "crow_flies_reach_matrix"]

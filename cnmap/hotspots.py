"""Hot and cold spots of a measure across areas: Getis-Ord Gi* and local Moran's I with FDR.

:func:`cold_spots` asks, for every area (LSOA, ward...), whether the area and its neighbours
together hold unusually low (a *cold spot*) or high (a *hot spot*) values of a measure such as
the share of residents within 15 minutes' walk of an organisation. It wraps PySAL's
:class:`esda.G_Local` (Getis-Ord Gi*, ``star=True``) and :class:`esda.Moran_Local` (local
Moran's I, LISA) and controls the false discovery rate over the many local tests with the
Benjamini-Hochberg step-up procedure.

Significance comes from conditional permutation (``permutations`` random re-allocations of
the other values around each area, by esda). The pseudo p-value is one-sided in the
direction of the observed statistic: ``(m + 1) / (permutations + 1)`` where ``m`` is the
number of permuted statistics at least as extreme *on the observed side* (the smaller
tail). cnmap recomputes it from esda's simulations so that permuted statistics equal to the
observed one (within a relative 1e-9) count as extreme in both tails: with a measure where
many areas share a value (most LSOAs 100% covered), esda's exact ``>=`` makes such ties
depend on floating-point rounding and moves p-values between 0.001 and 0.1. Its floor
is ``1 / (permutations + 1)`` (0.001 for 999), which limits what FDR control can declare
significant among many areas: use more permutations (e.g. 9,999) for a final analysis.
As in GeoDa and PySAL, testing one-sided in the observed direction at ``alpha`` is the same
as a two-sided test at ``2 * alpha``. ``permutations=0`` uses the normal approximation
instead (analytical z-scores, one-sided p-values).

Benjamini-Hochberg: with ``n`` p-values sorted ascending ``p(1) <= ... <= p(n)``, the
adjusted value (q-value) is ``q(i) = min_{j >= i} min(1, p(j) * n / j)``; an area is
significant when ``q <= alpha``. This is the same set as esda's :func:`esda.fdr` cut-off
(the largest ``p(k) <= alpha * k / n``), except that esda falls back to the Bonferroni bound
when every test is rejected; cnmap does not.

Needs the optional extra ``cnmap[spatialstats]`` (esda, libpysal).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.stats import norm as _norm

from cnmap.errors import (
    CRSError,
    MissingColumnError,
    OptionalDependencyError,
    ValidationError,
)

__all__ = ["cold_spots", "benjamini_hochberg", "spatial_weights", "METHODS", "CLUSTER_LABELS"]

log = logging.getLogger(__name__)

METHODS = ("gi_star", "local_moran")

#: Labels used in the ``<prefix>_cluster`` column.
CLUSTER_LABELS: dict[str, tuple[str, ...]] = {
    "gi_star": ("cold spot", "hot spot", "not significant"),
    "local_moran": ("HH", "LL", "HL", "LH", "not significant"),
}

NOT_SIGNIFICANT = "not significant"

# esda's Moran_Local.q: 1 HH (high value, high neighbours), 2 LH, 3 LL, 4 HL
_MORAN_QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
_DEFAULT_TRANSFORM = {"gi_star": "B", "local_moran": "R"}


def _norm_sf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_norm.sf(x), dtype="float64")


def _pseudo_p(
    observed: np.ndarray, sims: np.ndarray, permutations: int, rtol: float = 1e-9
) -> np.ndarray:
    """Directed pseudo p-value ``(m + 1) / (permutations + 1)``, ``m`` the smaller of the
    numbers of permuted statistics at least / at most the observed one, where a permuted
    statistic within ``rtol`` (relative) of the observed one counts in both tails.

    esda compares with ``>=`` exactly; when many areas share a value (e.g. 100% covered),
    many permuted statistics equal the observed one, and floating-point rounding then
    decides whether they count, moving a p-value between 0.001 and 0.1. Counting ties in
    both tails is the conservative choice and does not depend on rounding.
    """
    obs = np.asarray(observed, dtype="float64").reshape(-1, 1)
    sim = np.asarray(sims, dtype="float64")
    if sim.shape[0] != obs.shape[0]:
        sim = sim.T
    tol = rtol * np.maximum(np.abs(obs), np.abs(sim).mean(axis=1, keepdims=True))
    upper = (sim >= obs - tol).sum(axis=1)
    lower = (sim <= obs + tol).sum(axis=1)
    m = np.minimum(upper, lower)
    p: np.ndarray = (m + 1.0) / (permutations + 1.0)
    return p


def _imports() -> tuple[Any, Any]:
    try:
        import esda
        import libpysal
    except ImportError as exc:
        raise OptionalDependencyError(
            "cold_spots needs esda and libpysal: install the extra with "
            "`pip install cnmap[spatialstats]`"
        ) from exc
    return esda, libpysal


def benjamini_hochberg(pvalues: np.ndarray | pd.Series | list[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of independent or positively
    dependent tests.

    ``q(i) = min_{j >= i} min(1, p(j) n / j)`` over the p-values sorted ascending; NaN
    p-values are left NaN and do not count in ``n``.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.20]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(pvalues, dtype="float64")
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValidationError("benjamini_hochberg: p-values must lie between 0 and 1")
    pv = p[ok]
    n = pv.size
    order = np.argsort(pv, kind="stable")
    scaled = pv[order] * n / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    out[ok] = q
    return out


def spatial_weights(frame: gpd.GeoDataFrame, weights: Any = "queen") -> tuple[Any, dict[str, Any]]:
    """Binary spatial weights (libpysal ``W``) for the rows of ``frame``, in row order.

    Parameters
    ----------
    frame
        Polygons (or points, for ``"knn<k>"``).
    weights
        ``"queen"`` (shared edge or corner), ``"rook"`` (shared edge), ``"knn<k>"`` (the k
        nearest centroids, e.g. ``"knn8"``), or a ready libpysal ``W`` with one entry per row
        (copied, never modified).

    Returns
    -------
    (W, info)
        ``info`` records the kind, the number of islands (areas without a neighbour) and how
        they were handled: islands are attached to their nearest neighbour (by centroid), so
        every area has at least one neighbour.
    """
    _, libpysal = _imports()
    from libpysal.weights import KNN, Queen, Rook, W, attach_islands

    n = len(frame)
    info: dict[str, Any] = {}
    if isinstance(weights, W):
        if weights.n != n:
            raise ValidationError(
                f"weights has {weights.n} areas but the frame has {n} rows; "
                "build the weights on the same rows, in the same order"
            )
        w = W(weights.neighbors, weights.weights, id_order=weights.id_order, silence_warnings=True)
        info["weights"] = "user W"
    elif isinstance(weights, str):
        kind = weights.strip().lower()
        geo = frame[[frame.geometry.name]].reset_index(drop=True)
        if kind in ("queen", "rook"):
            if not geo.geom_type.isin(["Polygon", "MultiPolygon"]).all():
                raise ValidationError(
                    f"weights={weights!r} needs polygons; for points use "
                    "weights='knn8' (the 8 nearest)"
                )
            cls = Queen if kind == "queen" else Rook
            w = cls.from_dataframe(geo, use_index=False, silence_warnings=True)
        elif kind.startswith("knn") and kind[3:].isdigit() and int(kind[3:]) >= 1:
            k = int(kind[3:])
            if k >= n:
                raise ValidationError(
                    f"weights={weights!r}: k must be smaller than the number of areas ({n})"
                )
            pts = geo.copy()
            pts[pts.geometry.name] = geo.geometry.representative_point()
            w = KNN.from_dataframe(pts, k=k, use_index=False, silence_warnings=True)
        else:
            raise ValidationError(
                f"weights={weights!r} is not understood; use 'queen', 'rook', "
                "'knn<k>' (e.g. 'knn8') or a libpysal W"
            )
        info["weights"] = kind
    else:
        raise ValidationError(
            f"weights must be 'queen', 'rook', 'knn<k>' or a libpysal W, not "
            f"{type(weights).__name__}"
        )
    islands = list(w.islands)
    info["n_islands"] = len(islands)
    if islands:
        pts = frame[[frame.geometry.name]].reset_index(drop=True).copy()
        pts[pts.geometry.name] = pts.geometry.representative_point()
        k1 = KNN.from_dataframe(pts, k=1, use_index=False, silence_warnings=True)
        w = attach_islands(w, k1, silence_warnings=True)
        info["islands"] = "attached to their nearest neighbour"
        log.info("spatial_weights: %d island(s) attached to their nearest neighbour", len(islands))
    w.transform = "B"
    return w, info


def _run(
    esda: Any, method: str, y: np.ndarray, w: Any, tr: str, perm: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    """(p, z, extra output columns, Moran quadrants) from esda."""
    if method == "gi_star":
        g = esda.G_Local(
            y,
            w,
            transform=tr,
            permutations=perm,
            star=True,
            keep_simulations=True,
            n_jobs=1,
            seed=seed,
        )
        z = np.asarray(g.Zs, dtype="float64")
        p = (
            _pseudo_p(np.asarray(g.Gs), np.asarray(g.rGs), perm)
            if perm
            else np.asarray(g.p_norm, dtype="float64")
        )
        return p, z, {"gi_z": z}, None
    m = esda.Moran_Local(
        y,
        w,
        transformation=tr.lower(),
        permutations=perm,
        keep_simulations=True,
        n_jobs=1,
        seed=seed,
    )
    if perm:
        z = np.asarray(m.z_sim, dtype="float64")
        p = _pseudo_p(np.asarray(m.Is), np.asarray(m.rlisas), perm)
    else:  # conditional-randomisation moments (Sokal et al. 1998), normal approximation
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.asarray(m.Is) - np.asarray(m.EIc)) / np.sqrt(np.asarray(m.VIc))
        p = _norm_sf(np.abs(z))
    return p, z, {"moran_i": np.asarray(m.Is, dtype="float64"), "moran_z": z}, np.asarray(m.q)


def _check_options(
    frame: Any, column: str, method: str, alpha: Any, permutations: Any, transform: str | None
) -> str:
    """The frame, column and options of :func:`cold_spots`; returns the weights transform."""
    if method not in METHODS:
        raise ValidationError(f"method={method!r} is not one of {METHODS}")
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValidationError(
            f"cold_spots needs a GeoDataFrame of areas, not {type(frame).__name__}"
        )
    if column not in frame.columns:
        raise MissingColumnError(
            f"column {column!r} is not in the frame (columns: "
            f"{[c for c in frame.columns][:15]}...); pass an existing column"
        )
    if frame.crs is None:
        raise CRSError("the frame has no CRS; set it (areas from cnmap are in EPSG:27700)")
    if frame.crs.is_geographic:
        raise CRSError(
            f"the frame is in {frame.crs.to_string()} (longitude/latitude); "
            "reproject it first, e.g. frame.to_crs('EPSG:27700')"
        )
    if not (0 < alpha < 1):
        raise ValidationError(f"alpha={alpha!r} must be between 0 and 1")
    if (
        isinstance(permutations, bool)
        or not isinstance(permutations, (int, np.integer))
        or not (permutations == 0 or permutations >= 99)
    ):
        raise ValidationError(
            f"permutations={permutations!r} must be 0 (normal approximation) "
            "or a whole number >= 99"
        )
    tr = _DEFAULT_TRANSFORM[method] if transform is None else str(transform).upper()
    if tr not in ("B", "R"):
        raise ValidationError(
            f"transform={transform!r} must be 'B' (binary) or 'R' (row-standardised)"
        )
    if len(frame) < 5:
        raise ValidationError(f"cold_spots needs at least 5 areas, the frame has {len(frame)}")
    return tr


def _values(frame: gpd.GeoDataFrame, column: str, method: str) -> np.ndarray:
    """The measure as finite floats, varying, non-negative for Gi*."""
    y: np.ndarray = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(y)
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise ValidationError(
            f"column {column!r} has {int(bad.sum())} missing or non-numeric "
            f"value(s) at index {rows}; fill or drop those rows first (nothing "
            "is dropped silently)"
        )
    if np.ptp(y) == 0:
        raise ValidationError(
            f"column {column!r} has the same value ({y[0]:g}) in every area: "
            "there is nothing to find hot or cold spots in"
        )
    if method == "gi_star" and (y < 0).any():
        raise ValidationError(
            f"column {column!r} has negative values; Getis-Ord Gi* needs "
            "non-negative values (use method='local_moran')"
        )
    return y


def _labels(method: str, sig: np.ndarray, z: np.ndarray, quadrant: Any) -> np.ndarray:
    """Cluster labels: cold/hot spot (Gi*) or the Moran quadrant, for significant areas."""
    if method == "gi_star":
        return np.where(
            sig & (z < 0), "cold spot", np.where(sig & (z > 0), "hot spot", NOT_SIGNIFICANT)
        )
    quad = pd.Series(quadrant).map(_MORAN_QUADRANTS).to_numpy(dtype=object)
    return np.where(sig, quad, NOT_SIGNIFICANT)


def cold_spots(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    frame: gpd.GeoDataFrame,
    column: str,
    *,
    method: str = "gi_star",
    alpha: float = 0.05,
    fdr: bool = True,
    weights: Any = "queen",
    permutations: int = 999,
    seed: int | None = 12345,
    transform: str | None = None,
    prefix: str | None = None,
) -> gpd.GeoDataFrame:
    """Local cold and hot spots of ``column``: Getis-Ord Gi* or local Moran's I, with FDR.

    Parameters
    ----------
    frame
        One row per area with polygon geometry (EPSG:27700 or any projected CRS). Not
        modified.
    column
        The numeric measure (e.g. ``"share_covered_15min"``); no missing values.
    method
        ``"gi_star"`` (Getis-Ord Gi*, the area itself included in its neighbourhood) or
        ``"local_moran"`` (local Moran's I).
    alpha
        Significance level (after FDR control when ``fdr`` is true).
    fdr
        Control the false discovery rate over all areas with Benjamini-Hochberg
        (:func:`benjamini_hochberg`) on the permutation pseudo p-values; if false, each area
        is tested at ``alpha`` on its own (many false positives are then expected).
    weights
        Neighbours: ``"queen"``, ``"rook"``, ``"knn<k>"`` or a libpysal ``W``
        (:func:`spatial_weights`).
    permutations
        Number of conditional permutations for the pseudo p-values (>= 99), or 0 for the
        normal approximation (analytical z-scores: Gi* under total randomisation, local
        Moran under conditional randomisation, Sokal et al. 1998), which is instant but
        less reliable for skewed measures. The first permutation run in a Python session
        compiles esda's numba kernels (about 30 s for Gi*, 5 s for local Moran).
    seed
        Random seed of the permutations (results are reproducible for a given seed).
    transform
        Weights transform passed to esda: ``"B"`` binary or ``"R"`` row-standardised. Default:
        ``"B"`` for Gi* (the classic Getis-Ord form), ``"R"`` for local Moran.
    prefix
        Prefix of the output columns (default ``column``).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``frame`` with, for Gi*: ``<prefix>_gi_z`` (standardised Gi*, analytical),
        ``<prefix>_p`` (pseudo p-value), ``<prefix>_q`` (BH-adjusted), ``<prefix>_cluster``
        ("cold spot" where z < 0 and significant, "hot spot" where z > 0 and significant,
        otherwise "not significant"); for local Moran: ``<prefix>_moran_i``,
        ``<prefix>_moran_z`` (from the permutations), ``<prefix>_p``, ``<prefix>_q`` and
        ``<prefix>_cluster`` ("HH", "LL", "HL", "LH" for significant areas: the area's value
        high/low, its neighbours' average high/low, relative to the mean). ``attrs["cold_spots"]``
        records every parameter, the number of islands and the p-value cut-off used.

    Raises
    ------
    OptionalDependencyError
        esda or libpysal is not installed (extra ``cnmap[spatialstats]``).
    MissingColumnError
        ``column`` is not in ``frame``.
    ValidationError
        Missing or non-numeric values, a constant column, too few areas, bad parameters.
    CRSError
        The frame is in longitude/latitude or has no CRS (contiguity is fine, but k-nearest
        distances are not).
    """
    esda, _ = _imports()
    tr = _check_options(frame, column, method, alpha, permutations, transform)
    y = _values(frame, column, method)
    w, winfo = spatial_weights(frame, weights)
    p_ = prefix or column
    out = frame.copy()
    perm = int(permutations)
    with warnings.catch_warnings():
        # esda warns that its default will become two-sided; cnmap documents and keeps the
        # directed (one-sided, observed direction) pseudo p-value of esda 2.x
        warnings.filterwarnings(
            "ignore", message="The alternative hypothesis", category=DeprecationWarning
        )
        p, z, extra, quadrant = _run(esda, method, y, w, tr, perm, seed)
    for k, v in extra.items():
        out[f"{p_}_{k}"] = v
    q = benjamini_hochberg(p)
    sig = (q <= alpha) if fdr else (p <= alpha)
    out[f"{p_}_p"] = p
    out[f"{p_}_q"] = q
    label = _labels(method, sig, z, quadrant)
    out[f"{p_}_cluster"] = pd.array(label.astype(str), dtype="str")
    cutoff = float(np.max(p[sig])) if sig.any() else None
    out.attrs = {
        **frame.attrs,
        "cold_spots": {
            "column": column,
            "method": method,
            "alpha": alpha,
            "fdr": fdr,
            "fdr_method": "Benjamini-Hochberg" if fdr else None,
            "permutations": perm,
            "seed": seed,
            "transform": tr,
            **winfo,
            "p_values": (
                "permutation pseudo p-values (one-sided, in the observed direction)"
                if perm
                else "normal approximation (one-sided)"
            ),
            "p_floor": 1.0 / (perm + 1) if perm else 0.0,
            "largest_significant_p": cutoff,
            "n_significant": int(sig.sum()),
            "counts": {k: int(v) for k, v in pd.Series(label).value_counts().items()},
        },
    }
    log.info("cold_spots(%s, %s): %s", column, method, out.attrs["cold_spots"]["counts"])
    return out

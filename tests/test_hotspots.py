"""cnmap.hotspots: Benjamini-Hochberg by hand, Gi* z by hand, cold blocks on a lattice, errors.

The first permutation run in a session compiles esda's numba kernels (~30 s for Gi*, ~5 s for
local Moran): the permutation results are computed once per module.
"""

from __future__ import annotations

import builtins

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from cnmap.errors import CRSError, MissingColumnError, OptionalDependencyError, ValidationError
from cnmap.hotspots import benjamini_hochberg, cold_spots, spatial_weights

N = 10  # 10 x 10 lattice of 100 m squares


def lattice(values: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Row-major 10 x 10 squares; cell k = (i, j) with i = k % 10 (column), j = k // 10 (row).
    Default values: a low 3 x 3 block in the corner (0.2), 0.9 elsewhere, a high cell at 99."""
    if values is None:
        values = np.array([0.2 if (k % N < 3 and k // N < 3) else 0.9 for k in range(N * N)])
        values[99] = 1.0
    cells = [
        box(i * 100, j * 100, (i + 1) * 100, (j + 1) * 100) for j in range(N) for i in range(N)
    ]
    return gpd.GeoDataFrame(
        {"v": values, "code": [f"c{k}" for k in range(N * N)]}, geometry=cells, crs="EPSG:27700"
    )


BLOCK = [k for k in range(N * N) if k % N < 3 and k // N < 3]


@pytest.fixture(scope="module")
def gi_perm():
    return cold_spots(lattice(), "v", permutations=999, seed=7)


@pytest.fixture(scope="module")
def moran_perm():
    return cold_spots(lattice(), "v", method="local_moran", permutations=999, seed=7)


# --------------------------------------------------------------------------------------------
# Benjamini-Hochberg


def test_bh_by_hand():
    # sorted p: 0.01, 0.03, 0.04, 0.20 (n = 4): p*n/i = 0.04, 0.06, 0.0533, 0.2
    # step-up minimum from the top: 0.04, 0.0533, 0.0533, 0.2
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(benjamini_hochberg([np.nan, 0.5])[0])
    assert benjamini_hochberg([np.nan, 0.5])[1] == 0.5  # n counts only real p-values
    assert (benjamini_hochberg([0.9, 0.95]) <= 1).all()
    with pytest.raises(ValidationError, match="between 0 and 1"):
        benjamini_hochberg([0.5, 1.5])


def test_bh_matches_esda_fdr_cutoff():
    from esda import fdr

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.002, 20), rng.uniform(0, 1, 180)])
    cut = fdr(p, 0.05)
    q = benjamini_hochberg(p)
    assert set(np.flatnonzero(q <= 0.05)) == set(np.flatnonzero(p <= cut))


# --------------------------------------------------------------------------------------------
# Gi* and local Moran on the lattice


def test_gi_star_z_by_hand_normal_approximation():
    g = lattice()
    out = cold_spots(g, "v", permutations=0)
    x = g["v"].to_numpy()
    n, xb = x.size, x.mean()
    s = np.sqrt((x**2).mean() - xb**2)
    for k, nb in ((0, [0, 1, 10, 11]), (55, [44, 45, 46, 54, 55, 56, 64, 65, 66])):
        w = len(nb)  # binary weights, the cell itself included (Gi*)
        z = (x[nb].sum() - xb * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
        assert out["v_gi_z"].iat[k] == pytest.approx(z)
    assert out["v_cluster"].iat[0] == "cold spot" and out["v_cluster"].iat[55] == "not significant"
    assert out.attrs["cold_spots"]["permutations"] == 0
    assert "v_gi_z" not in g.columns  # the input is not modified


@pytest.mark.slow
def test_gi_star_permutations_find_the_cold_block(gi_perm):
    lab = gi_perm["v_cluster"]
    assert set(lab) <= {"cold spot", "hot spot", "not significant"}
    assert (lab.iloc[[0, 1, 10, 11]] == "cold spot").all()  # the block's inner corner
    far = [k for k in range(N * N) if k % N >= 5 and k // N >= 5 and k != 99]
    assert (lab.iloc[far] != "cold spot").all()
    # p-values are exact multiples of 1/1000, q >= p, significant iff q <= 0.05
    p, q = gi_perm["v_p"].to_numpy(), gi_perm["v_q"].to_numpy()
    np.testing.assert_allclose(p * 1000, np.rint(p * 1000))
    assert (q >= p - 1e-12).all() and p.min() >= 1 / 1000
    assert ((lab != "not significant").to_numpy() == (q <= 0.05)).all()
    a = gi_perm.attrs["cold_spots"]
    assert a["fdr"] and a["seed"] == 7 and a["transform"] == "B" and a["weights"] == "queen"
    assert a["n_significant"] == int((q <= 0.05).sum())


@pytest.mark.slow
def test_gi_star_reproducible_and_fdr_stricter(gi_perm):
    again = cold_spots(lattice(), "v", permutations=999, seed=7)
    pd.testing.assert_series_equal(again["v_p"], gi_perm["v_p"])
    loose = cold_spots(lattice(), "v", permutations=999, seed=7, fdr=False)
    sig_fdr = gi_perm["v_cluster"] != "not significant"
    sig_raw = loose["v_cluster"] != "not significant"
    assert sig_raw.sum() >= sig_fdr.sum() and not (sig_fdr & ~sig_raw).any()


@pytest.mark.slow
def test_local_moran_quadrants(moran_perm):
    lab = moran_perm["v_cluster"]
    assert set(lab) <= {"HH", "LL", "HL", "LH", "not significant"}
    assert (lab.iloc[[0, 1, 10, 11]] == "LL").all()
    # a significant cell is LL only if it is low and its neighbours are low too
    assert not (lab.iloc[[k for k in range(N * N) if k not in BLOCK]] == "LL").any()
    assert {"v_moran_i", "v_moran_z", "v_p", "v_q"} <= set(moran_perm.columns)
    assert (moran_perm["v_moran_i"].iloc[[0, 11]] > 0).all()  # positive association


def test_local_moran_normal_approximation_and_outlier():
    v = np.full(N * N, 0.9) + np.tile([0.0, 0.01], N * N // 2)
    v[BLOCK] = 0.2
    v[11] = 0.95  # a high cell inside the low block: HL
    out = cold_spots(lattice(v), "v", method="local_moran", permutations=0, fdr=False, alpha=0.1)
    assert out["v_cluster"].iat[11] == "HL"
    assert out["v_moran_i"].iat[11] < 0


def test_weights_options_and_islands():
    g = lattice()
    rook, info = spatial_weights(g, "rook")
    assert rook.cardinalities[0] == 2 and rook.cardinalities[11] == 4 and info["n_islands"] == 0
    queen, _ = spatial_weights(g, "queen")
    assert queen.cardinalities[0] == 3 and queen.cardinalities[11] == 8
    pts = g.copy()
    pts["geometry"] = g.geometry.centroid
    knn, info = spatial_weights(pts, "knn4")
    assert set(knn.cardinalities.values()) == {4} and info["weights"] == "knn4"
    # an island far away gets its nearest neighbour
    isl = pd.concat(
        [
            g,
            gpd.GeoDataFrame(
                {"v": [0.5], "code": ["far"]}, geometry=[box(5000, 5000, 5100, 5100)], crs=g.crs
            ),
        ],
        ignore_index=True,
    )
    w, info = spatial_weights(isl, "queen")
    assert info["n_islands"] == 1 and w.cardinalities[100] == 1 and w.neighbors[100] == [99]
    out = cold_spots(isl, "v", permutations=0)
    assert out.attrs["cold_spots"]["n_islands"] == 1 and len(out) == 101
    # a user W is copied, not modified
    user, _ = spatial_weights(g, "queen")
    user.transform = "B"
    cold_spots(g, "v", weights=user, permutations=0, method="local_moran")
    assert user.transform == "B"


def test_errors():
    g = lattice()
    with pytest.raises(MissingColumnError, match="'nope' is not in the frame"):
        cold_spots(g, "nope")
    with pytest.raises(ValidationError, match="method='gi'"):
        cold_spots(g, "v", method="gi")
    bad = g.copy()
    bad.loc[3, "v"] = np.nan
    with pytest.raises(ValidationError, match=r"missing or non-numeric value\(s\) at index \[3\]"):
        cold_spots(bad, "v")
    const = g.assign(v=0.5)
    with pytest.raises(ValidationError, match="same value"):
        cold_spots(const, "v")
    with pytest.raises(ValidationError, match="negative values"):
        cold_spots(g.assign(v=g["v"] - 0.5), "v")
    with pytest.raises(CRSError, match="longitude/latitude"):
        cold_spots(g.set_crs("EPSG:4326", allow_override=True), "v")
    with pytest.raises(CRSError, match="no CRS"):
        cold_spots(g.set_crs(None, allow_override=True), "v")
    with pytest.raises(ValidationError, match="alpha"):
        cold_spots(g, "v", alpha=1.5)
    with pytest.raises(ValidationError, match="permutations=50"):
        cold_spots(g, "v", permutations=50)
    with pytest.raises(ValidationError, match="transform='X'"):
        cold_spots(g, "v", transform="X")
    with pytest.raises(ValidationError, match="weights='hexagon'"):
        cold_spots(g, "v", weights="hexagon")
    with pytest.raises(ValidationError, match="needs polygons"):
        pts = g.copy()
        pts["geometry"] = g.geometry.centroid
        cold_spots(pts, "v", weights="queen")
    with pytest.raises(ValidationError, match="k must be smaller"):
        cold_spots(g, "v", weights="knn100")
    small, _ = spatial_weights(g.iloc[:20], "queen")
    with pytest.raises(ValidationError, match="weights has 20 areas but the frame has 100"):
        cold_spots(g, "v", weights=small)
    with pytest.raises(ValidationError, match="at least 5 areas"):
        cold_spots(g.iloc[:4], "v")
    with pytest.raises(ValidationError, match="GeoDataFrame"):
        cold_spots(pd.DataFrame(g.drop(columns="geometry")), "v")
    with pytest.raises(ValidationError, match="weights must be"):
        cold_spots(g, "v", weights=3)


def test_missing_extra_names_it(monkeypatch):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in ("esda", "libpysal"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(OptionalDependencyError, match=r"cnmap\[spatialstats\]"):
        cold_spots(lattice(), "v")
    with pytest.raises(ImportError):  # also an ImportError for callers that catch that
        cold_spots(lattice(), "v")


@pytest.mark.slow
def test_ties_count_in_both_tails_whatever_the_rounding(gi_perm):
    # 70% of areas at exactly 1.0 (like shares covered): many permuted neighbourhoods tie
    # with the observed one; binary and row-standardised weights round differently, and the
    # pseudo p-values must not depend on that
    rng = np.random.default_rng(11)
    v = np.where(rng.random(N * N) < 0.7, 1.0, rng.uniform(0.2, 0.99, N * N))
    g = lattice(v)
    b = cold_spots(g, "v", permutations=999, seed=3, transform="B")
    r = cold_spots(g, "v", permutations=999, seed=3, transform="R")
    np.testing.assert_array_equal(b["v_p"].to_numpy(), r["v_p"].to_numpy())
    # an area at 1.0 whose neighbours are all 1.0 ties with every all-ones draw: not extreme
    ones = np.flatnonzero(v == 1.0)
    w, _ = spatial_weights(g, "queen")
    surrounded = [k for k in ones if all(v[j] == 1.0 for j in w.neighbors[k])]
    assert surrounded and (b["v_p"].iloc[surrounded] > 0.01).all()

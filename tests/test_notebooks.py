"""Every notebook in ``notebooks/`` runs from top to bottom without an error.

Each notebook is executed with nbclient in a fresh kernel of this Python (the ``python3``
kernel of ipykernel runs ``sys.executable``); the kernel inherits ``CNMAP_DATA_MIRROR``,
``CNMAP_CACHE_DIR`` and ``CNMAP_OFFLINE`` from the test session (``tests/conftest.py``), so it
reads the offline mirror and never downloads. A new notebook is picked up automatically.

The fast tests check the *stored* notebooks, which the documentation renders as they are: every
code cell has been run, in order, and no stored output is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300

nbformat = pytest.importorskip("nbformat")


def _ids(path: Path) -> str:
    return path.name


def _code_cells(nb):  # noqa: ANN001, ANN202
    return [c for c in nb.cells if c.cell_type == "code"]


def _errors(nb) -> list[str]:  # noqa: ANN001
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
    return out


#: Notebooks the documentation relies on: a missing one fails here (the others are found by
#: the glob above, so a deleted notebook would otherwise only drop its tests).
EXPECTED = ("01_birmingham_data.ipynb", "02_researcher_scenarios.ipynb", "03_who_is_served.ipynb")


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"
    missing = sorted(set(EXPECTED) - {p.name for p in NOTEBOOKS})
    assert not missing, f"notebooks missing: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_notebook_was_run_and_is_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code cell"
    counts = [c.get("execution_count") for c in cells]
    assert all(isinstance(n, int) for n in counts), (
        f"{path.name}: some cells were not run before saving; run the notebook and save it"
    )
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        f"{path.name}: cells were run out of order ({counts}); restart, run all and save"
    )
    assert not _errors(nb), f"{path.name}: stored error outputs: {_errors(nb)}"
    assert any(c.get("outputs") for c in cells), f"{path.name}: no stored output"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path: Path, shared_data: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient.exceptions import CellExecutionError

    assert os.environ["CNMAP_DATA_MIRROR"]  # inherited by the kernel
    assert os.environ.get("CNMAP_CACHE_DIR")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    assert not _errors(nb), _errors(nb)
    # the executed notebook shows results, not only code
    assert any(c.get("outputs") for c in _code_cells(nb))

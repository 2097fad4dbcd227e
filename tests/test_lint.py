"""The same static checks locally as in CI: ruff (lint) and mypy (types) on the library."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_clean():
    out = subprocess.run(
        [_tool("ruff"), "check", "cnmap", "bench", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_clean():
    out = subprocess.run([_tool("mypy"), "cnmap"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_clean():
    out = subprocess.run(
        [_tool("ruff"), "format", "--check", "cnmap", "bench", "tests", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


#: Functions allowed over MAX_LINES, with the reason (none today).
LONG_FUNCTIONS: dict[str, str] = {}
MAX_LINES = 120


def test_no_function_over_120_lines():
    long = [
        f"{p.relative_to(ROOT)}:{f.lineno} {f.name} ({f.end_lineno - f.lineno + 1} lines)"
        for p in sorted((ROOT / "cnmap").rglob("*.py"))
        for f in _functions(p)
        if (f.end_lineno or f.lineno) - f.lineno + 1 > MAX_LINES
        and f"{p.relative_to(ROOT)}:{f.name}" not in LONG_FUNCTIONS
    ]
    assert not long, "split these functions (or give a reason in LONG_FUNCTIONS):\n" + "\n".join(
        long
    )


def test_no_class_built_inside_a_function():
    nested = [
        f"{p.relative_to(ROOT)}:{c.lineno} {c.name} in {f.name}"
        for p in sorted((ROOT / "cnmap").rglob("*.py"))
        for f in _functions(p)
        for c in ast.walk(f)
        if isinstance(c, ast.ClassDef)
    ]
    assert not nested, "define these classes at module level:\n" + "\n".join(nested)

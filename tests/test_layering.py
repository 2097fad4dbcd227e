"""The layers: the core analyses import nothing from the layers above them.

Data flow runs one way (docs/scenarios.md, ARCHITECTURE): inputs -> core -> outputs, with the
pipeline, the command line and the workflows on top. Every import statement of every core
module is read from its source (module level and inside functions), so a lazy import of an
upper layer is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cnmap"

#: The core: analyses over frames and results (a module, or a package of modules).
CORE = (
    "coverage",
    "aggregate",
    "thin",
    "scenarios",
    "groups",
    "layers",
    "schema",
    "params",
    "hours",
    "basket",
)
#: The layers above the core.
UPPER = (
    "cnmap.pipeline",
    "cnmap.cli",
    "cnmap.export",
    "cnmap.workflows",
    "cnmap.maps",
    "cnmap.outputs",
)
#: Imports of an upper layer allowed for a stated reason, (file, module) -> reason.
ALLOWED: dict[tuple[str, str], str] = {}


def _core_files() -> list[Path]:
    files: list[Path] = []
    for name in CORE:
        module, package = PACKAGE / f"{name}.py", PACKAGE / name
        if package.is_dir():
            files += sorted(package.rglob("*.py"))
        else:
            assert module.is_file(), f"core module cnmap.{name} moved: update CORE"
            files.append(module)
    return files


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from cnmap import x`` gives
    ``cnmap.x``; relative imports resolved), and every literal ``import_module`` target."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.add(node.args[0].value)
    return out


def _upper(name: str) -> str | None:
    return next((u for u in UPPER if name == u or name.startswith(u + ".")), None)


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.slow
def test_core_module_imports_no_upper_layer(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    bad = sorted({u for name in _imports(path) if (u := _upper(name)) and (rel, u) not in ALLOWED})
    assert not bad, f"{rel} imports {bad}: the core must not depend on the layers above it"


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "cnmap" / "scenarios" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "import cnmap.cli\n"
        "from cnmap import export\n"
        "def f():\n"
        "    from ..pipeline import run\n"
        "    from cnmap.maps.interactive import coverage_map\n"
        "    import importlib\n"
        "    importlib.import_module('cnmap.workflows')\n",
        encoding="utf-8",
    )
    found = {u for name in _imports(probe, tmp_path) if (u := _upper(name))}
    assert found == {"cnmap.cli", "cnmap.export", "cnmap.pipeline", "cnmap.maps", "cnmap.workflows"}
    assert "cnmap.scenarios.sites" in _imports(ROOT / "cnmap" / "scenarios" / "__init__.py")


def test_allowances_are_still_needed() -> None:
    for (rel, module), reason in ALLOWED.items():
        assert module in _imports(ROOT / rel), (
            f"{rel} no longer imports {module}: remove the allowance ({reason})"
        )


@pytest.mark.slow
def test_importing_the_scenarios_loads_no_upper_layer() -> None:
    code = (
        "import sys, cnmap.scenarios, cnmap.aggregate, cnmap.schema, cnmap.params\n"
        f"print(sorted(m for m in sys.modules if m.startswith({UPPER!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout

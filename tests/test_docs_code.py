"""Every code block in README.md and docs/ runs.

Python blocks of one page run in order in one namespace (a page reads like a notebook), from a
scratch folder, offline, against the data mirror. TOML and YAML blocks must parse. Shell blocks:
each ``cnmap ...`` line runs and must exit 0; the README's two set-up commands are the CI's own
entry points and are run by CI itself, so they are checked to exist rather than run again here.
A page may mark a block that must not run with a ``<!-- no-run: reason -->`` comment on the line
before it; the reason is required and the test counts such blocks.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
PAGES = [p for p in PAGES if "notebooks" not in p.parts]
FENCE = re.compile(r"^```(\w+)?\s*$")
NO_RUN = re.compile(r"<!--\s*no-run:\s*(\S.*?)\s*-->")
SETUP_COMMANDS = {"bash scripts/main.sh", "bash scripts/test.sh"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    no_run: str | None


def _blocks(page: Path) -> list[Block]:
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start, lang, body = i, m.group(1).lower(), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = lines[start - 1] if start else ""
        reason = NO_RUN.search(prev)
        out.append(
            Block(
                page, start + 1, lang, "\n".join(body) + "\n", reason.group(1) if reason else None
            )
        )
        i += 1
    return out


def _ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in pages]


def _python_pages() -> list[Path]:
    return [p for p in PAGES if any(b.lang == "python" for b in _blocks(p))]


@pytest.fixture
def scratch(tmp_path, monkeypatch, shared_data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(shared_data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("page", _python_pages(), ids=_ids(_python_pages()))
def test_python_blocks_of_page_run(page: Path, scratch: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for block in _blocks(page):
        if block.lang != "python" or block.no_run:
            continue
        code = compile(block.code, f"{page.relative_to(ROOT)}:{block.line}", "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the docs' own examples
        except Exception as exc:
            raise AssertionError(
                f"{page.relative_to(ROOT)} line {block.line}: {type(exc).__name__}: {exc}"
            ) from exc
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_config_blocks_parse(page: Path) -> None:
    for block in _blocks(page):
        if block.no_run:
            continue
        where = f"{page.relative_to(ROOT)} line {block.line}"
        if block.lang == "toml":
            try:
                tomllib.loads(block.code)
            except tomllib.TOMLDecodeError as exc:
                raise AssertionError(f"{where}: {exc}") from exc
        elif block.lang in {"yaml", "yml"}:
            yaml.safe_load(block.code)


def _shell_commands(block: Block) -> list[str]:
    cmds = []
    for raw in block.code.splitlines():
        line = raw.split(" #", 1)[0].strip().removeprefix("$ ")
        if line and not line.startswith("#"):
            cmds.append(line)
    return cmds


def _shell_blocks() -> list[Block]:
    return [b for p in PAGES for b in _blocks(p) if b.lang in {"bash", "sh", "console", "shell"}]


def test_every_page_has_parsable_fences() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = [ln for ln in text.splitlines() if ln.startswith("```")]
        assert len(fences) % 2 == 0, f"{page.relative_to(ROOT)}: an unclosed code fence"
    assert sum(len(_blocks(p)) for p in PAGES) >= 20


def test_no_run_blocks_give_a_reason_and_stay_few() -> None:
    skipped = [b for p in PAGES for b in _blocks(p) if b.no_run]
    for b in skipped:
        assert len(b.no_run or "") >= 10, f"{b.page.name}:{b.line}: say why the block cannot run"
    assert len(skipped) <= 5, [f"{b.page.name}:{b.line}" for b in skipped]


@pytest.mark.slow
@pytest.mark.parametrize(
    "block", _shell_blocks(), ids=[f"{b.page.relative_to(ROOT)}:{b.line}" for b in _shell_blocks()]
)
def test_shell_blocks_run(block: Block, scratch: Path) -> None:
    if block.no_run:
        pytest.skip(block.no_run)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    exe = Path(sys.executable).parent
    env["PATH"] = f"{exe}{os.pathsep}{env.get('PATH', '')}"
    for cmd in _shell_commands(block):
        if cmd in SETUP_COMMANDS or cmd.startswith("bash scripts/test.sh"):
            assert (ROOT / shlex.split(cmd)[1]).is_file(), cmd
            continue
        if cmd.startswith("bash scripts/"):
            assert (ROOT / shlex.split(cmd)[1]).is_file(), cmd
            continue
        if cmd.startswith(("pip ", "python -m pip", "export ", "cd ")):
            continue
        out = subprocess.run(
            cmd, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, (
            f"{block.page.relative_to(ROOT)} line {block.line}: `{cmd}` exited "
            f"{out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )

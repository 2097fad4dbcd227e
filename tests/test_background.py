"""cnmap.background: one step in a forked second process, with the parent's data and errors."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from cnmap.background import Background, BackgroundError, can_fork
from cnmap.errors import ValidationError

needs_fork = pytest.mark.skipif(not can_fork(), reason="needs fork and two CPUs")


def _write(frame: pd.DataFrame, folder: Path) -> list[Path]:
    """Write each column to a file (what the figures step does: files out, paths back)."""
    out = []
    for col in frame.columns:
        path = folder / f"{col}.txt"
        path.write_text(",".join(map(str, frame[col])))
        out.append(path)
    return out


@needs_fork
def test_the_child_sees_the_parents_data_and_sends_back_its_result(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4.5, 5.5, 6.5]})
    job = Background("write", lambda: (_write(frame, tmp_path), os.getpid()))
    assert job.forked
    paths, pid = job.result()
    assert pid != os.getpid()  # it ran in another process
    assert paths == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert (tmp_path / "b.txt").read_text() == "4.5,5.5,6.5"
    assert job.seconds is not None and job.seconds >= 0


@needs_fork
def test_the_childs_changes_do_not_reach_the_parent() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})

    def change() -> int:
        frame.loc[0, "a"] = 99
        return int(frame["a"].sum())

    assert Background("change", change).result() == 104
    assert frame["a"].tolist() == [1, 2, 3]


@needs_fork
def test_the_childs_error_is_raised_in_the_parent_as_it_was() -> None:
    def bad() -> None:
        raise ValidationError("column 'x' of row 3 is not a number; fix the file")

    job = Background("figures", bad)
    with pytest.raises(ValidationError, match=r"column 'x' of row 3 is not a number"):
        job.result()


@needs_fork
def test_a_killed_child_is_a_clear_error() -> None:
    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(BackgroundError, match=r"figures: .*without a result \(exit code -9"):
        Background("figures", die).result()


@needs_fork
def test_an_unpicklable_result_is_a_clear_error() -> None:
    with pytest.raises(BackgroundError, match=r"figures: the background process failed: .*"):
        Background("figures", lambda: lambda: 1).result()


def test_inline_when_not_forked(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [7]})
    job = Background("write", lambda: (_write(frame, tmp_path), os.getpid()), fork=False)
    assert not job.forked and not (tmp_path / "a.txt").exists()  # runs at result()
    paths, pid = job.result()
    assert pid == os.getpid() and paths == [tmp_path / "a.txt"]
    with pytest.raises(ValidationError, match="bad"):
        Background("x", lambda: (_ for _ in ()).throw(ValidationError("bad")), fork=False).result()


def test_can_fork_needs_two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert can_fork() is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert can_fork() is ("fork" in __import__("multiprocessing").get_all_start_methods())


@needs_fork
def test_cancel_stops_a_running_child(tmp_path: Path) -> None:
    import time

    marker = tmp_path / "done"

    def slow() -> None:
        time.sleep(30)
        marker.write_text("finished")

    job = Background("figures", slow)
    t = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t < 10 and not job._proc.is_alive()
    assert job._proc.exitcode is not None and job._proc.exitcode < 0  # stopped by a signal
    assert not marker.exists()
    job.cancel()  # twice is harmless
    Background("inline", lambda: 1, fork=False).cancel()  # nothing to stop


def test_the_console_script_flushes_everything_before_its_quick_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text("[area]\nlad_code = 'E08000025'\nfoo = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "cnmap", "run", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("cnmap: ") and "foo" in done.stderr
    assert done.stderr.endswith("\n") and len(done.stderr.strip().splitlines()) == 1
    listing = subprocess.run(
        [sys.executable, "-m", "cnmap", "--help"], capture_output=True, text=True
    )
    assert listing.returncode == 0 and "usage: cnmap" in listing.stdout
    assert listing.stdout.rstrip().splitlines()[-1]  # the whole help text, to its last line

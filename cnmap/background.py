"""Run one step of a run in a second process while the first goes on (the second core).

:class:`Background` forks a child that inherits the run's data (nothing is copied or pickled on
the way in), runs one function there and sends back its small result (e.g. the list of files
written) and the seconds it took. The parent collects it with :meth:`Background.result`, which
raises the child's error as the parent would have raised it. Where ``fork`` is unavailable, or
only one CPU is free to this process, the function simply runs inline at :meth:`result`, so the
outputs are the same either way; only the wall time differs.

This is an output-layer helper of :mod:`cnmap.pipeline` (figures are drawn while the tables and
the map are written); the analyses never use it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

__all__ = ["Background", "BackgroundError", "can_fork"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundError(RuntimeError):
    """The background process failed in a way that could not be sent back (e.g. it was killed,
    or its error could not be pickled); the message names the step and what is known."""


def can_fork() -> bool:
    """True when a second process can share the work: ``fork`` exists and at least two CPUs
    are available to this process."""
    if "fork" not in mp.get_all_start_methods():
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2


def _child(fn: Callable[[], Any], conn: Connection) -> None:
    """Body of the forked process: run ``fn`` and send ("ok", value, s) or ("error", exc, tb)."""
    t = time.perf_counter()
    try:
        value = fn()
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        message: tuple[Any, ...] = ("error", exc, traceback.format_exc())
    else:
        message = ("ok", value, time.perf_counter() - t)
    try:
        conn.send(message)
    except Exception as exc:  # noqa: BLE001 - an unpicklable value or error
        conn.send(("error", None, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Background(Generic[T]):
    """``fn()`` running in a forked process (see the module docstring).

    Parameters
    ----------
    name
        What the step is (for messages and logs), e.g. ``"figures"``.
    fn
        A function of no arguments returning a small picklable value. It must not change the
        parent's data in a way the parent relies on (the child's changes are not seen).
    fork
        Run in a second process (default: when :func:`can_fork`); False runs inline at
        :meth:`result`.
    """

    def __init__(self, name: str, fn: Callable[[], T], *, fork: bool | None = None) -> None:
        self.name = name
        self._fn = fn
        self.seconds: float | None = None
        self.forked = can_fork() if fork is None else bool(fork)
        self._conn: Connection | None = None
        self._proc: Any = None
        if self.forked:
            # text still buffered here would be written a second time by the child at its exit
            sys.stdout.flush()
            sys.stderr.flush()
            ctx = mp.get_context("fork")
            parent, child = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_child, args=(fn, child), name=f"cnmap-{name}")
            self._proc.start()
            child.close()
            self._conn = parent
            log.debug("%s: drawing in process %s", name, self._proc.pid)

    def result(self) -> T:
        """Wait for the step and return its value (running it here if it was not forked).

        Raises
        ------
        Exception
            The child's own error, as raised there.
        BackgroundError
            When the child died without a result or its error could not be sent back.
        """
        if not self.forked:
            t = time.perf_counter()
            value = self._fn()
            self.seconds = time.perf_counter() - t
            return value
        assert self._conn is not None
        try:
            message = self._conn.recv()
        except EOFError:
            message = None
        finally:
            self._conn.close()
            self._proc.join()
        return self._unpack(message)

    def cancel(self) -> None:
        """Stop the background process if it is still running (the caller failed and will not
        collect the result); nothing to do when it ran inline or was collected."""
        if not self.forked or self._conn is None or self._conn.closed:
            return
        self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()

    def _unpack(self, message: tuple[Any, ...] | None) -> T:
        if message is None:
            code = self._proc.exitcode
            raise BackgroundError(
                f"{self.name}: the background process ended without a result (exit code "
                f"{code}; a negative code is the signal that stopped it, e.g. -9 when the "
                "machine ran out of memory)"
            )
        kind, payload, extra = message
        if kind == "ok":
            self.seconds = float(extra)
            return payload  # type: ignore[no-any-return]
        log.debug("%s: background traceback\n%s", self.name, extra)
        if isinstance(payload, BaseException):
            raise payload
        last = str(extra).strip().splitlines()[-1] if str(extra).strip() else "unknown error"
        raise BackgroundError(f"{self.name}: the background process failed: {last}")

"""The Dask side of a national run: the cluster, the district tasks and their progress.

By default a ``distributed.LocalCluster`` is started (one single-threaded worker process per
core; its dashboard address is logged). ``scheduler=`` takes the address of a running Dask
scheduler (``"tcp://host:8786"``) or an existing ``distributed.Client``: the same tasks then
run on a real cluster, whose workers need cnmap and the data (``CNMAP_DATA_MIRROR`` or a
cache) themselves. Each district is one task; its result comes back to the client, which
keeps it on disk as soon as it arrives (:class:`cnmap.national.store.PartialStore`).

Install with ``pip install "dask[distributed]>=2024.1"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from cnmap.errors import OptionalDependencyError

__all__ = ["dask_client", "run_tasks", "DASK_REQUIREMENT"]

log = logging.getLogger(__name__)

#: What ``pip install`` needs for national runs.
DASK_REQUIREMENT = "dask[distributed]>=2024.1"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise OptionalDependencyError(
            f'national runs use Dask distributed: pip install "{DASK_REQUIREMENT}"'
        ) from exc
    return distributed


@contextlib.contextmanager
def dask_client(
    scheduler: Any = None,
    *,
    n_workers: int | None = None,
    processes: bool = True,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = None,
    dashboard_address: str | None = ":8787",
) -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler`` (an address or a Client), else on a new
    LocalCluster (closed on exit; a Client passed in is left open).

    Parameters
    ----------
    scheduler
        None (LocalCluster), ``"tcp://host:port"`` or a ``distributed.Client``.
    n_workers
        LocalCluster workers (default: one per core).
    processes
        Worker processes (True) or threads of this process (False: for tests and notebooks).
    threads_per_worker
        Threads per LocalCluster worker.
    memory_limit
        Per-worker memory limit of the LocalCluster (``"4GB"``; default: Dask's).
    dashboard_address
        Where the LocalCluster serves its dashboard (None: no dashboard).
    """
    dd = _distributed()
    if isinstance(scheduler, dd.Client):
        yield scheduler
        return
    if scheduler is not None:
        with dd.Client(str(scheduler)) as client:
            log.info(
                "national run on the Dask scheduler %s (dashboard %s)",
                scheduler,
                client.dashboard_link,
            )
            yield client
        return
    workers = n_workers or os.cpu_count() or 1
    kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": threads_per_worker,
        "processes": processes,
        "dashboard_address": dashboard_address,
        # a local cluster listens locally only (TCP on the loopback,
        # also for threads: the in-process transport looks up the
        # host's public address)
        "host": "127.0.0.1",
        "protocol": "tcp",
    }
    if memory_limit is not None:
        kwargs["memory_limit"] = memory_limit
    with dd.LocalCluster(**kwargs) as cluster, dd.Client(cluster) as client:
        log.info(
            "national run on a LocalCluster of %d worker(s); dashboard %s",
            workers,
            client.dashboard_link,
        )
        yield client


def run_tasks(  # noqa: PLR0913 (keyword-only options of one cluster map)
    client: Any,
    fn: Callable[..., Any],
    items: Sequence[str],
    *,
    args: Sequence[Any] = (),
    broadcast: Mapping[str, Any] | None = None,
    priorities: Mapping[str, int] | None = None,
    on_error: Callable[[str, BaseException], Any],
    progress: bool | None = None,
    desc: str = "districts",
    name: str = "district",
) -> Iterator[tuple[str, Any]]:
    """Run ``fn(item, *args, **broadcast)`` for every item on the cluster, yielding
    ``(item, result)`` as each finishes (a task that fails outright, e.g. its worker died,
    yields ``on_error(item, exception)``).

    ``broadcast`` values are sent once to every worker (``Client.scatter``); ``priorities``
    start the larger items first; progress is a tqdm bar over finished items (None: only
    when stderr is a terminal, tqdm's ``disable=None``; the Dask dashboard shows the tasks
    as ``{name}-...``).
    """
    from tqdm.auto import tqdm

    dd = _distributed()
    shared = {
        k: client.scatter(v, broadcast=True, hash=False) for k, v in (broadcast or {}).items()
    }
    run = uuid.uuid4().hex[:8]
    futures = {}
    for item in items:
        fut = client.submit(
            fn,
            item,
            *args,
            **shared,
            key=f"{name}-{item}-{run}",
            priority=(priorities or {}).get(item, 0),
            pure=False,
        )
        futures[fut] = item
    finished = tqdm(
        dd.as_completed(futures),
        desc=desc,
        total=len(futures),
        leave=False,
        disable=None if progress is None else not progress,
    )
    for fut in finished:
        item = futures[fut]
        try:
            result = fut.result()
        except Exception as exc:  # noqa: BLE001 - a lost task is that item's failure only
            result = on_error(item, exc)
        fut.release()
        yield item, result

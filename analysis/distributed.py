"""The indices of partitioned Parquet microdata on a Dask cluster (``dask.distributed``).

Each task reads one province's files (all its periods) on a worker, reduces them
to a summary (:func:`analysis.summary.summarize`) and sends back the summary's
Arrow IPC bytes -- a few hundred kB whatever the number of responses; the
client merges the summaries exactly (:func:`analysis.merge.merge_summaries`).
Only file paths go out and only summaries come back: no response ever crosses
the network. Workers need this package installed and the files at the same path
(a shared file system) -- see docs/scale.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .inputs import InputError
from .summary import Summary, SummaryError

__all__ = ["compute_dask", "summarize_files", "local_cluster"]


def summarize_files(files: list[str], province: str, lonely_psu: str, factors, threads: int) -> bytes:
    """Worker side: read one province's files and return its summary as Arrow IPC bytes."""
    from .parquet import file_meta, read_parquet
    from .summary import summarize, to_bytes

    data = read_parquet([Path(f) for f in files], factors=factors)
    meta = file_meta(files[0])
    summary = summarize(data, province=province, period=",".join(sorted({Path(f).parent.name for f in files})),
                        lonely_psu=lonely_psu, questionnaire=meta.get("questionnaire"),
                        weighting=meta.get("weighting"), units=meta.get("units"), source="parquet",
                        threads=threads)
    return to_bytes(summary)


def local_cluster(n_workers: int = 2, memory_limit: str | None = None):
    """A ``LocalCluster`` of single-threaded worker processes (dashboard on a free port)."""
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                        worker_dashboard_address=":0", memory_limit=memory_limit or 0)


def compute_dask(root, *, scheduler: str | None = None, factors=None, level: float = 0.95,
                 target: float | None = 0.80, lonely_psu: str = "adjust", ci_method: str = "logit",
                 provinces: bool = False, n_workers: int = 2, client=None,
                 progress: Callable[[int, int], None] | None = None):
    """The table of every response under ``root`` (see :mod:`analysis.parquet`), computed on Dask.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); default: a
        ``LocalCluster`` of ``n_workers`` single-threaded processes, closed at the end.
    provinces : bool
        Add the ``province`` rows (default False: the same rows as :func:`analysis.compute_table`).
    client : dask.distributed.Client, optional
        Use this client (tests, benchmarks).

    Returns the table and, as ``table.notes``, what was merged.
    """
    from dask.distributed import Client, as_completed

    from .merge import merge_summaries
    from .parquet import province_partitions
    from .summary import from_bytes

    groups = province_partitions(root)
    cluster = None
    own = client is None
    if own:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        else:
            cluster = local_cluster(n_workers)
            client = Client(cluster)
    try:
        futures = {}
        for province, files in sorted(groups.items(), key=lambda kv: -sum(f.stat().st_size for f in kv[1])):
            fut = client.submit(summarize_files, [str(f) for f in files], province, lonely_psu,
                                None if factors is None else str(factors), 1, key=f"sipas-summary-{province}",
                                pure=False)
            futures[fut] = province
        summaries: list[Summary] = []
        for k, fut in enumerate(as_completed(list(futures)), 1):
            try:
                summaries.append(from_bytes(fut.result(), name=f"province {futures[fut]}"))
            except (InputError, SummaryError):
                raise
            except ValueError as exc:
                raise InputError(f"province {futures[fut]}: {exc}") from None
            if progress:
                progress(k, len(futures))
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    summaries.sort(key=lambda s: s.province)
    return merge_summaries(summaries, level=level, target=target, ci_method=ci_method, provinces=provinces)

"""Index reports for the city: HTML, PDF, XLSX and CSV from the analysis engine's tables.

Entry points: ``python -m analysis report`` (:mod:`.cli`), :func:`.gather.gather`
(database -> :class:`.model.ReportInputs`) and :func:`.build.write_report`
(inputs -> the four files, all or nothing). See docs/reports.md.
"""


def make_report(request, lang: str, out, *, progress=None, parallel: bool = False):
    """Gather the period's numbers and write the four files: what the CLI and the dashboard run.

    ``request`` is a :class:`.gather.ReportRequest`; ``progress(stage, fraction)`` goes from 0 to 1
    (0–0.7 computing, 0.7–1 writing). Returns :class:`.build.ReportFiles`. Raises
    :class:`.gather.ReportRequestError` (a ValueError) for a request that cannot give a report;
    nothing is written then. :func:`.gather.check` refuses such a request in a moment, before
    starting the job. ``parallel=True`` scans the responses in a child process beside loading and
    estimating (see :func:`.gather.gather`) and renders the PDF and the CSV in forked child processes
    while the other files are written (see :func:`.build.write_report`), ``indices.csv`` begun as
    soon as the engine table is final: for the single-threaded CLI, not a server (the dashboard's
    report job runs in a thread and leaves it off).
    """
    import os
    from functools import partial

    from analysis.table import COLUMNS

    from .build import PARALLEL_ENV, EarlyFile, write_report
    from .gather import gather

    parallel = parallel and os.environ.get(PARALLEL_ENV, "1") != "0"
    columns = COLUMNS
    if request.sae:       # indices.csv as `python -m analysis indices --sae` writes it: the sae_* columns too
        from analysis.sae import SAE_COLUMNS
        columns = COLUMNS + SAE_COLUMNS
    early = None

    def start_indices(table) -> None:
        """``indices.csv`` in a child as soon as the table is final (see :class:`.build.EarlyFile`)."""
        nonlocal early
        if parallel:
            early = EarlyFile.start(out, partial(table.to_csv, columns=columns))

    try:
        inputs, table = gather(request, progress=progress, parallel=parallel, on_table=start_indices)
        return write_report(inputs, lang, out, start=0.7, progress=progress,
                            write_indices=partial(table.to_csv, columns=columns), parallel=parallel,
                            indices=early)
    except BaseException:
        if early is not None:
            early.discard()
        raise

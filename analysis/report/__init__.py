"""Index reports for the city: HTML, PDF, XLSX and CSV from the analysis engine's tables.

Entry points: ``python -m analysis report`` (:mod:`.cli`), :func:`.gather.gather`
(database -> :class:`.model.ReportInputs`) and :func:`.build.write_report`
(inputs -> the four files, all or nothing). See docs/reports.md.
"""

"""Statistics for the SIPAS survey: weighted indices with design-based confidence intervals.

The public API (see docs/analysis.md)::

    data = analysis.read_csv("survey.csv", factors="factors.csv")     # or analysis.load_db(path, ...)
    table = analysis.compute_table(data, level=0.95)
    table.to_csv("out.csv"); rows = list(table.rows()); table.row("quan-1", "INDEX:ITEM_AVG")

This package imports nothing from ``survey`` (the web application).
"""
from .db import DbError, load_db
from .design import Design, Estimate, mean, proportion, ratio
from .indices import COLUMNS, REFERENCE_COLUMNS, IndexTable, compute_table
from .inputs import InputError, SurveyData, read_csv, read_factors
from .intervals import ConfidenceInterval, korn_graubard_ci, logit_ci
from .judgements import against_target, change_table, period_change, rank_units

__all__ = ["COLUMNS", "REFERENCE_COLUMNS", "ConfidenceInterval", "DbError", "Design", "Estimate", "IndexTable",
           "InputError", "SurveyData", "against_target", "change_table", "compute_table", "korn_graubard_ci", "load_db",
           "logit_ci", "mean", "period_change", "proportion", "rank_units", "ratio", "read_csv", "read_factors"]

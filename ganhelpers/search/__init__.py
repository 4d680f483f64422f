"""Hyperparameter search on Optuna: successive halving inside each trial, one study shared by any number of
workers (taught in 10_comparison_and_search).

    from ganhelpers import search
    study = search.search("dcgan", {"lr": search.LogUniform(5e-5, 2e-3)}, minutes=10)
    print(search.format_table(study))
"""
from .results import default_trial, format_table, format_value, rung_study, table_rows
from .space import LogUniform, Uniform, default_space
from .study import Search, check_storage, open_storage, plan_rungs, search

__all__ = ["LogUniform", "Search", "Uniform", "check_storage", "default_space", "default_trial", "format_table",
           "format_value", "open_storage", "plan_rungs", "rung_study", "search", "table_rows"]

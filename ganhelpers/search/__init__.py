"""Hyperparameter search with successive halving under one time budget (taught in 10_comparison_and_search).

    from ganhelpers import search
    results = search.search("dcgan", {"lr_G": search.LogUniform(5e-5, 2e-3)}, minutes=10)
"""
from .engine import LogUniform, Search, Uniform, default_space, plan_rungs, search
from .results import format_table, format_value, load_results, plot_search, save_results, table_rows

__all__ = ["LogUniform", "Search", "Uniform", "default_space", "plan_rungs", "search", "format_table", "format_value",
           "load_results", "plot_search", "save_results", "table_rows"]

"""A study of `ganhelpers.search` as a table: one row per trial, best first, then the best configuration
against the default. The study itself (Optuna's) holds everything: `study.trials`, `study.best_trial`, and
Optuna's plots (`optuna.visualization.matplotlib.plot_optimization_history(study)`, ...).
"""
from __future__ import annotations

import math

from optuna.trial import TrialState


def format_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4g}"
    return "-" if v is None else str(v).replace(", ", ",") if isinstance(v, list) else str(v)


def status(trial) -> str:
    """complete, pruned (stopped at a rung), diverged (a NaN loss or score), running, waiting or failed (its worker
    died: the trial was queued again)."""
    if "diverged" in trial.user_attrs:
        return "diverged"
    return trial.state.name.lower().replace("fail", "failed")


def table_rows(study) -> list[dict]:
    """One dict per trial, best first: trial, the searched values, status, steps, seconds, the score at each rung."""
    search = study.user_attrs["search"]
    name, n_rungs, eta = search["metric"], search["rungs"], search["eta"]
    sign = -1 if study.direction.name == "MAXIMIZE" else 1
    best = _best(study)

    def order(t):
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        return -len(t.intermediate_values), math.inf if last is None or last != last else sign * last, t.number

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=order):
        values = t.user_attrs.get("values") or {key: "" for key in search["space"]}
        note = ("best" if best is not None and t.number == best.number else "") + \
               (" default" if t.user_attrs.get("default") else "")
        rows.append({"trial": t.number, **values, "status": status(t), "steps": (t.user_attrs.get("steps") or [0])[-1],
                     "seconds": round((t.user_attrs.get("seconds") or [0.0])[-1], 1),
                     **{f"{name}@{k + 1}": t.intermediate_values.get(eta ** k, "") for k in range(n_rungs)},
                     "note": note.strip()})
    return rows


def _best(study):
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value == t.value]
    return (max if study.direction.name == "MAXIMIZE" else min)(complete, key=lambda t: t.value) if complete else None


def default_trial(study):
    """The default configuration's finished trial (trial 0, or the retry of a trial 0 whose worker died), or None."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.user_attrs.get("default")]
    return done[0] if done else None


def format_table(study) -> str:
    """The study as a plain-text table (best first), then the best configuration against the default."""
    rows = table_rows(study)
    if not rows:
        return "no trials yet"
    cells = [list(rows[0])] + [[format_value(v) for v in r.values()] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    name, best, default = study.user_attrs["search"]["metric"], _best(study), default_trial(study)
    if best is not None:
        lines.append(f"best: trial {best.number}, {name} {format_value(best.value)}, with "
                     + ", ".join(f"{k}={format_value(v)}" for k, v in best.user_attrs["values"].items()))
    if default is not None and best is not None:
        lines.append(f"default (trial {default.number}, same budget): {name} {format_value(default.value)}"
                     + ("; no candidate beat the default" if best.number == default.number
                        else "; the best beats the default"))
    return "\n".join(lines)


def rung_study(study, rung: int = 1):
    """The candidates' scores at one rung (1 = the first) as a study of their own, in memory: every trial that
    reached the rung, pruned ones included, with its score there as its value. At the first rung every trial
    trained equally long, so Optuna's parameter importances and slice plots of this study compare like with like
    (those of `study` see only the few trials that finished)."""
    import optuna
    eta = study.user_attrs["search"]["eta"]
    at = optuna.create_study(direction=study.direction)
    for t in study.get_trials(deepcopy=False):
        value = t.intermediate_values.get(eta ** (rung - 1))
        if t.params and value is not None and value == value:  # the default has no params: it is no candidate
            at.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=value,
                                                   user_attrs=t.user_attrs))
    return at

"""The results of `ganhelpers.search`: saved atomically as JSON and CSV, loaded back, shown as a text
table and a figure. `ganhelpers.search` re-exports it.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path


def save_results(results: dict, out) -> None:
    """OUT/results.json (everything) and OUT/results.csv (the table), each written atomically."""
    rows, out = table_rows(results), Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def write_csv(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name, write in (("results.json", lambda f: json.dump(results, f, indent=1)), ("results.csv", write_csv)):
        tmp = out / f"{name}.tmp"
        with open(tmp, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out / name)  # a crash mid-write leaves the previous file whole


def load_results(out) -> dict:
    return json.loads((Path(out) / "results.json").read_text())


def table_rows(results: dict) -> list[dict]:
    """One dict per trial, best first: trial, the parameters, status, steps, seconds, the score at each rung."""
    name, sign = results["metric"], -1 if results["higher_is_better"] else 1

    def order(t):
        last = t["scores"][-1] if t["scores"] else None
        return -len(t["scores"]), math.inf if last is None else sign * last, t["trial"]

    rows, n_rungs = [], len(results["plan"]["fractions"])
    for t in sorted(results["trials"], key=order):
        note = ("best" if t["trial"] == results.get("best") else "") + (" default" if t["default"] else "")
        rows.append({"trial": t["trial"], **t["values"], "status": t["status"], "steps": (t["steps"] or [0])[-1],
                     "seconds": round((t["seconds"] or [0.0])[-1], 1),
                     **{f"{name}@{k + 1}": (t["scores"] + [""] * n_rungs)[k] for k in range(n_rungs)},
                     "note": note.strip()})
    return rows


def format_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4g}"
    return "-" if v is None else str(v).replace(", ", ",") if isinstance(v, list) else str(v)


def format_table(results: dict) -> str:
    """The results as a plain-text table (best first), then the best configuration against the default."""
    rows = table_rows(results)
    cells = [list(rows[0])] + [[format_value(v) for v in r.values()] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    by_id, name = {t["trial"]: t for t in results["trials"]}, results["metric"]
    best, default = by_id.get(results.get("best")), by_id[0]
    if best is not None:
        lines.append(f"best: trial {best['trial']}, {name} {format_value(best['scores'][-1])}, with "
                     + ", ".join(f"{k}={format_value(v)}" for k, v in best["values"].items()))
        lines.append(f"default (trial 0, same budget): {name} {format_value((default['scores'] or [None])[-1])}"
                     + ("; no candidate beat the default" if best["default"] else "; the best beats the default"))
    return "\n".join(lines)


def plot_search(results: dict, path=None):
    """Score against trial (every rung) and one scatter per parameter (first-rung scores); returns the figure."""
    from ..viz.plot import new_figure, tight_layout
    keys, name, trials = list(results["key"]["space"]), results["metric"], results["trials"]
    fig, axes = new_figure(1 + len(keys), figsize=(3.6 + 2.6 * len(keys), 3.0))
    for k in range(len(results["plan"]["fractions"])):
        at = [(t["trial"], t["scores"][k]) for t in trials if len(t["scores"]) > k and t["scores"][k] is not None]
        if at:
            axes[0].scatter(*zip(*at), s=14 + 14 * k, label=f"rung {k + 1}")
    axes[0].set(xlabel="trial (0 = the default)", ylabel=name, title="score by trial and rung")
    axes[0].legend(fontsize=7)
    axes[0].xaxis.get_major_locator().set_params(integer=True)  # trial numbers
    for ax, key in zip(axes[1:], keys):
        points = [(t["values"][key], t["scores"][0], t["default"]) for t in trials if t["scores"] and
                  t["scores"][0] is not None and isinstance(t["values"][key], (int, float))]
        x, y, is_default = zip(*points) if points else ((), (), ())
        log = results["key"]["space"][key].get("log") or (x and min(x) > 0 and max(x) / min(x) > 20)
        ax.scatter([math.log10(v) for v in x] if log else x, y, c=["tab:red" if d else "tab:blue" for d in is_default],
                   s=18)  # red: the default
        if x and all(isinstance(v, int) for v in x):
            ax.set_xticks(sorted(set(x)))
        ax.set(xlabel=f"log10 {key}" if log else key, title=f"{name} at rung 1 (red: default)" if key == keys[0] else "")
    tight_layout(fig)
    if path:
        fig.savefig(path, dpi=80)
    return fig

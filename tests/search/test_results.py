"""A search's results: the table rows (best first), their text and CSV/JSON files, and the figure, on a
hand-made results dict (no training)."""
import csv

import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

from ganhelpers.search import format_table, format_value, load_results, plot_search, save_results, table_rows  # noqa: E402


def results(higher_is_better=False, best=2):
    trial = lambda i, lr, scores, status, default=False: {  # noqa: E731
        "trial": i, "default": default, "params": {} if default else {"lr_G": lr}, "values": {"lr_G": lr},
        "status": status, "steps": [3, 6][:len(scores)], "seconds": [0.5, 1.25][:len(scores)], "scores": scores}
    return {"metric": "judge_fd", "higher_is_better": higher_is_better, "best": best,
            "plan": {"fractions": [0.5, 1.0], "counts": [3, 2]},
            "key": {"space": {"lr_G": {"low": 1e-4, "high": 1e-2, "log": True}}},
            "trials": [trial(0, 2e-4, [5.0, 4.0], "finished", default=True), trial(1, 1e-2, [9.0], "pruned"),
                       trial(2, 1e-3, [3.0, 2.5], "finished")]}


def test_rows_put_the_furthest_and_best_first():
    rows = table_rows(results())
    assert [r["trial"] for r in rows] == [2, 0, 1]  # finalists by their last score, then the pruned
    assert rows[0] == {"trial": 2, "lr_G": 1e-3, "status": "finished", "steps": 6, "seconds": 1.2,
                       "judge_fd@1": 3.0, "judge_fd@2": 2.5, "note": "best"}
    assert rows[1]["note"] == "default" and rows[2]["judge_fd@2"] == ""  # a pruned trial has no second score
    flipped = results(higher_is_better=True, best=0)
    assert [r["trial"] for r in table_rows(flipped)] == [0, 2, 1]


def test_format_value_and_table():
    assert [format_value(v) for v in (0.0002, 12345.0, 2.5, 3, None, [1, 2])] == ["0.0002", "1.23e+04", "2.5", "3",
                                                                                  "-", "[1,2]"]
    lines = format_table(results()).splitlines()
    assert lines[0].split() == ["trial", "lr_G", "status", "steps", "seconds", "judge_fd@1", "judge_fd@2", "note"]
    assert lines[1].split() == ["2", "0.001", "finished", "6", "1.2", "3", "2.5", "best"]
    assert lines[-2] == "best: trial 2, judge_fd 2.5, with lr_G=0.001"
    assert lines[-1] == "default (trial 0, same budget): judge_fd 4; the best beats the default"
    assert format_table(results(best=0)).endswith("no candidate beat the default")


def test_save_load_and_plot(tmp_path):
    save_results(results(), tmp_path / "s")
    assert load_results(tmp_path / "s") == results()
    with open(tmp_path / "s" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["2", "0", "1"] and rows[0]["judge_fd@2"] == "2.5"
    assert not list((tmp_path / "s").glob("*.tmp"))  # written atomically: no temporary file left
    fig = plot_search(results(), tmp_path / "s" / "search.png")
    assert len(fig.axes) == 2 and (tmp_path / "s" / "search.png").read_bytes()[:4] == b"\x89PNG"
    assert fig.axes[1].get_xlabel() == "log10 lr_G"  # a log-uniform parameter on a log axis
    assert len(fig.axes[0].collections) == 2  # one scatter per rung

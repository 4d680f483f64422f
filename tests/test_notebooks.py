"""Notebooks are committed clean and their links follow ganhelpers.REPO_URL (nbval runs them)."""
import json
from pathlib import Path

import pytest

from ganhelpers import links

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "02_dcgan.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {i} has outputs: clear them before committing"
            assert cell["execution_count"] is None, f"cell {i} has an execution count"
    ids = [cell.get("id") for cell in nb["cells"]]  # nbformat 4.5: every cell has an id, unique in the notebook
    assert None not in ids, f"cell {ids.index(None)} has no id (nbformat 4.5 requires one)"
    assert len(set(ids)) == len(ids), "two cells share an id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badge_and_install_point_at_this_notebook(path):
    assert links.stale_links(path) == []
    assert links.badge_url(path).endswith(f"/notebooks/student/{path.name}")  # students open their edition


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    """The template: a title, a set-up cell, a run-mode switch, objectives, exercises, references."""
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").lower()
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")
    for heading in ("learning objectives", "exercise", "references", "what goes wrong"):
        assert heading in markdown, heading
    assert "run_mode(" in code


def test_one_set_up_cell_installs_everything_full_mode_needs():
    """Every notebook installs ganhelpers the same way, with no extras: its core dependencies are what full
    mode needs (pytorch-fid included), so a fresh Colab session cannot miss one."""
    cells = set()
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        setup = [c for c in nb["cells"] if c["cell_type"] == "code" and 'find_spec("ganhelpers")' in "".join(c["source"])]
        assert len(setup) == 1, path.name
        cells.add("".join(setup[0]["source"]))
    assert len(cells) == 1, "the notebooks' set-up cells differ"
    (cell,) = cells
    assert f'"{links.install_url()}"' in cell  # the repository itself: no [extras], no pinned versions


def test_rewrite_fixes_a_stale_badge(tmp_path, monkeypatch):
    nb = tmp_path / "x.ipynb"
    stale = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [
        "[![Open](b.svg)](https://colab.research.google.com/github/old/repo/blob/main/notebooks/y.ipynb)"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ['run(["pip", "install", "git+https://github.com/old/repo"])']}], "metadata": {}, "nbformat": 4,
        "nbformat_minor": 5}
    nb.write_text(json.dumps(stale))
    assert len(links.stale_links(nb)) == 2
    assert links.rewrite(nb) and links.stale_links(nb) == []

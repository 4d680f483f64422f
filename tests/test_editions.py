"""ganhelpers/editions.py: the student edition hides every solution behind a stub, stays in step with the
teacher edition, and every exercise has a self-check; ganhelpers/testing.py's fail-while-unsolved runner
rejects a check that passes on nothing or fails before it reaches the student's code."""
import json
from pathlib import Path

import pytest

from ganhelpers import editions
from ganhelpers.testing import expect_unsolved_to_fail, expect_wrong_to_fail

ROOT = Path(__file__).resolve().parents[1]
TEACHER = sorted((ROOT / "notebooks").glob("*.ipynb"))

CELL = '''import math


def area(r):
    """A circle's area."""
    ### BEGIN SOLUTION
    return math.pi * r**2
    ### END SOLUTION


def side(a):
    ### BEGIN SOLUTION
    return math.sqrt(a)
    ### END SOLUTION
'''


def test_stub_replaces_each_solution_at_its_indentation():
    student = editions.strip_solutions(CELL, "(a)")
    assert "math.pi" not in student and "sqrt" not in student and "SOLUTION" not in student
    assert '    raise NotImplementedError("exercise (a): write area here, then run the self-check below")' in student
    assert "write side here" in student
    namespace = {}
    exec(student, namespace)  # the stubbed cell still defines its functions...
    with pytest.raises(NotImplementedError, match="write area here"):
        namespace["area"](1.0)  # ...which say what to write when called


def test_only_one_solution_stubbed():
    second = editions.strip_solutions(CELL, only=1)
    namespace = {}
    exec(second, namespace)
    assert namespace["area"](1.0) == pytest.approx(3.14159, abs=1e-5)  # the first stays solved
    with pytest.raises(NotImplementedError, match="write side here"):
        namespace["side"](4.0)
    with pytest.raises(ValueError, match="holds 2 solutions"):
        editions.strip_solutions(CELL, only=2)


@pytest.mark.parametrize("broken", ["    ### BEGIN SOLUTION\n    x = 1\n",
                                    "    x = 1\n    ### END SOLUTION\n",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n"])
def test_unbalanced_markers_are_refused(broken):
    with pytest.raises(ValueError, match="SOLUTION"):
        editions.strip_solutions(broken)


def test_the_student_edition_is_up_to_date():
    assert editions.stale_editions() == [], "run: python -m ganhelpers.editions --write"


def test_stale_editions_reports_a_changed_teacher(tmp_path):
    nb = json.loads(TEACHER[0].read_text())
    (tmp_path / TEACHER[0].name).write_text(editions.dumps(nb))
    assert "missing" in editions.stale_editions(tmp_path)[0]
    assert editions.write_editions(tmp_path) and editions.stale_editions(tmp_path) == []
    nb["cells"][0]["source"] = ["# a new title\n"]
    (tmp_path / TEACHER[0].name).write_text(editions.dumps(nb))
    assert "out of date" in editions.stale_editions(tmp_path)[0]


@pytest.mark.parametrize("path", TEACHER, ids=lambda p: p.name)
def test_exercises_have_solutions_stubs_and_checks(path):
    """At least two exercises per notebook, each solution hidden in the student edition and followed by a
    self-check cell; the student edition differs from the teacher's only in the exercise cells."""
    teacher = json.loads(path.read_text())
    student = json.loads(editions.student_path(path).read_text())
    assert len(student["cells"]) == len(teacher["cells"])
    exercises = []
    for index, (mine, theirs) in enumerate(zip(teacher["cells"], student["cells"])):
        source = "".join(mine["source"])
        if mine["cell_type"] == "code" and editions.has_solution(source):
            exercises.append(index)
            stubbed = "".join(theirs["source"])
            assert stubbed.count("raise NotImplementedError(") == editions.count_solutions(source)
            assert "SOLUTION" not in stubbed
            check = next(c for c in teacher["cells"][index + 1:] if c["cell_type"] == "code")
            assert "self-check" in "".join(check["source"]).splitlines()[0].lower(), \
                f"cell {index}: the next code cell must be the exercise's self-check"
        else:
            assert mine == theirs, f"cell {index} differs between the editions but holds no solution"
    assert len(exercises) >= 2, "every notebook has at least two checked exercises"


def test_fail_while_unsolved_accepts_a_check_that_calls_the_student_code():
    student = editions.strip_solutions(CELL, "(a)", only=0)
    expect_unsolved_to_fail(student, "assert abs(area(1.0) - 3.14159) < 1e-5", {}, "area")


def test_fail_while_unsolved_rejects_a_check_that_passes_on_nothing():
    student = editions.strip_solutions(CELL, "(a)", only=0)
    with pytest.raises(AssertionError, match="passed on the unsolved exercise"):
        expect_unsolved_to_fail(student, "assert callable(area)", {}, "area")


def test_fail_while_unsolved_rejects_a_check_that_fails_on_its_own():
    student = editions.strip_solutions(CELL, "(a)", only=0)
    with pytest.raises(AssertionError, match="before it reached the exercise's stub"):
        expect_unsolved_to_fail(student, "assert side(4.0) == 3", {}, "area")


def test_with_solution_puts_a_wrong_answer_in_place():
    wrong = editions.with_solution(CELL, "return 3 * r**2  # the wrong constant\n", only=0)
    namespace = {}
    exec(wrong, namespace)
    assert namespace["area"](1.0) == 3 and namespace["side"](4.0) == 2  # the other solution stays
    assert "SOLUTION" not in wrong


def test_wrong_solutions_stay_out_of_the_student_edition():
    cell = {"cell_type": "code", "source": CELL, "metadata": {editions.META: {"wrong_solutions": [
        {"mistake": "wrong constant", "code": "return 3 * r**2"}]}}, "outputs": [], "execution_count": None}
    assert editions.wrong_solutions(cell)[0]["mistake"] == "wrong constant"
    student = editions.student_notebook({"cells": [cell]})
    assert editions.wrong_solutions(student["cells"][0]) == [] and editions.wrong_solutions(cell)  # teacher's kept


def test_fail_on_wrong_accepts_an_assertion_and_rejects_a_pass_or_a_crash():
    wrong = editions.with_solution(CELL, "return 3 * r**2", only=0)
    expect_wrong_to_fail(wrong, "assert abs(area(1.0) - 3.14159) < 1e-5, 'not pi r^2'", {}, "area")
    with pytest.raises(AssertionError, match="passed a wrong solution"):
        expect_wrong_to_fail(wrong, "assert area(1.0) > 0", {}, "area")
    with pytest.raises(AssertionError, match="crashed"):
        expect_wrong_to_fail(wrong, "area(1.0)[0]", {}, "area")


@pytest.mark.parametrize("path", TEACHER, ids=lambda p: p.name)
def test_every_solution_has_a_wrong_solution_for_its_check(path):
    """The plugin feeds each to the exercise's self-check, which must reject it; here: that they exist, each
    names its mistake and replaces a solution the cell has."""
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or not editions.has_solution(source):
            continue
        wrong = editions.wrong_solutions(cell)
        covered = {w.get("solution", 0) for w in wrong}
        assert covered == set(range(editions.count_solutions(source))), \
            f"cell {index}: every solution needs a wrong solution in the metadata (have {sorted(covered)})"
        for w in wrong:
            assert w["mistake"] and w["code"].strip()
            editions.with_solution(source, w["code"], w.get("solution", 0))  # raises if no such solution

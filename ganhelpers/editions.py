"""Two editions of every notebook from one source: the teacher's, with solutions, and the student's.

The committed notebooks (`notebooks/NN_name.ipynb`) are the teacher edition: each exercise's reference
solution sits between nbgrader's markers,

    def js_divergence(p, q):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and the student edition (`notebooks/student/NN_name.ipynb`, the one the Colab badges open) replaces every
marked region by a stub that raises a clear error, so a check run before the exercise is solved fails:

    def js_divergence(p, q):
        # YOUR CODE HERE
        raise NotImplementedError("exercise (a): write js_divergence here, then run the self-check below")

    python -m ganhelpers.editions          # report student notebooks that are missing or out of date
    python -m ganhelpers.editions --write  # write them from the teacher edition

The markers are nbgrader's (its `ClearSolutions` preprocessor reads the same ones), so a teacher who grades
with nbgrader can use these notebooks as they are; the generator itself is these few functions on plain JSON,
because nbgrader brings a JupyterLab extension and a database layer to do it (README, *Exercises*).
"""
from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STUDENT = "student"  # the student edition's folder, inside notebooks/
META = "ganhelpers"  # a cell's metadata key for what the tests need (its wrong solutions)
STUB_TAIL = "run the self-check below"  # every stub's message ends so (the tests look for it)
_DEF = re.compile(r"^\s*def (\w+)\(")
_EXERCISE = re.compile(r"^#{2,4}\s*(?:Exercise\s+(\d+)|(\([a-z]\)))", re.MULTILINE)


def has_solution(source: str) -> bool:
    """Whether a code cell's source holds a marked solution."""
    return count_solutions(source) > 0


def count_solutions(source: str) -> int:
    """How many marked solutions a cell's source holds."""
    return sum(line.strip() == BEGIN for line in source.splitlines())


def _walk(source: str):
    """The lines of a cell's source with where each stands: (kind, line, region, name), kind "begin" or "end" for
    a marker, "solution" inside solution number `region` (from 0), "code" outside every solution; name: the function
    the last `def` outside the solutions opened. Unbalanced or nested markers raise ValueError: a half-marked cell
    would leak its solution into the student edition."""
    inside, region, name = False, -1, None
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution")
            inside, region = True, region + 1
            yield "begin", line, region, name
        elif marker == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
            yield "end", line, region, name
        else:
            match = None if inside else _DEF.match(line)
            name = match.group(1) if match else name
            yield ("solution" if inside else "code"), line, region, name
    if inside:
        raise ValueError(f"{BEGIN} without {END}")


def _check_index(only: int, source: str) -> None:
    if not 0 <= only < count_solutions(source):
        raise ValueError(f"solution {only}: the cell holds {count_solutions(source)} solutions")


def strip_solutions(source: str, exercise: str = "", only: int | None = None) -> str:
    """A cell's source with every marked solution replaced by a stub at the marker's indentation.

    The stub raises NotImplementedError naming the enclosing function (the last `def` above the marker) and
    the exercise label, e.g. "(a)". With `only=k`, only the k-th solution (from 0) becomes a stub and the
    others stay solved, without their markers: how the tests show that a check exercises every function of
    a cell. Unbalanced or nested markers raise ValueError.
    """
    out = []
    for kind, line, region, name in _walk(source):
        stub = only is None or only == region
        if kind == "begin" and stub:
            indent = line[:len(line) - len(line.lstrip())]
            what = f"write {name} here" if name else "write your code here"
            label = f"exercise {exercise}: " if exercise else ""
            out.append(f"{indent}# YOUR CODE HERE\n")
            out.append(f'{indent}raise NotImplementedError("{label}{what}, then {STUB_TAIL}")\n')
        elif kind == "code" or (kind == "solution" and not stub):
            out.append(line)
    if only is not None:
        _check_index(only, source)
    return "".join(out)


def exercise_labels(nb: dict) -> dict[int, str]:
    """Cell index -> the exercise it belongs to ("(a)", "1"), read from the last exercise heading above it."""
    labels, current = {}, ""
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            found = _EXERCISE.findall(source)
            current = (found[-1][0] or found[-1][1]) if found else current
            if re.search(r"^#{1,2} ", source, re.MULTILINE) and not found:
                current = ""  # a new section: no longer inside an exercise
        else:
            labels[index] = current
    return labels


def student_notebook(nb: dict) -> dict:
    """The student edition of a teacher notebook (a new dict; the teacher's is left as it was)."""
    student = copy.deepcopy(nb)
    labels = exercise_labels(nb)
    for index, cell in enumerate(student["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and has_solution(source):
            cell["source"] = strip_solutions(source, labels.get(index, "")).splitlines(keepends=True)
            meta = cell.get("metadata", {})
            meta.pop(META, None)  # the wrong solutions the tests feed the check: not for the student's eyes
    return student


def wrong_solutions(cell: dict) -> list[dict]:
    """The deliberately wrong solutions a teacher cell carries for the tests, in its metadata:
    `{"ganhelpers": {"wrong_solutions": [{"mistake": "no detach", "solution": 0, "code": "..."}]}}`,
    `code` replacing the body of the cell's solution number `solution` (from 0; default 0), written without
    the indentation of its markers."""
    return cell.get("metadata", {}).get(META, {}).get("wrong_solutions", [])


def with_solution(source: str, code: str, only: int = 0) -> str:
    """A cell's source with its solution number `only` replaced by `code` (re-indented to the markers'
    indentation) and every marker removed: how the tests run a wrong solution in the student's place."""
    out = []
    for kind, line, region, _ in _walk(source):
        if kind == "begin" and region == only:
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + l if l.strip() else l for l in code.rstrip("\n").splitlines(keepends=True)]
            out[-1] = out[-1] if out[-1].endswith("\n") else out[-1] + "\n"
        elif kind == "code" or (kind == "solution" and region != only):
            out.append(line)
    _check_index(only, source)
    return "".join(out)


def student_path(teacher: Path) -> Path:
    return teacher.parent / STUDENT / teacher.name


def dumps(nb: dict) -> str:
    """A notebook as the repository stores it (one-space indent, UTF-8 text)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def stale_editions(folder: Path = NOTEBOOKS) -> list[str]:
    """Student notebooks that are missing, out of date, or left over from a renamed teacher notebook."""
    teachers = sorted(folder.glob("*.ipynb"))
    problems = []
    for teacher in teachers:
        expected = dumps(student_notebook(json.loads(teacher.read_text())))
        path = student_path(teacher)
        if not path.exists():
            problems.append(f"{path} is missing")
        elif path.read_text() != expected:
            problems.append(f"{path} is out of date with {teacher.name}")
    names = {t.name for t in teachers}
    problems += [f"{p} has no teacher notebook" for p in sorted((folder / STUDENT).glob("*.ipynb"))
                 if p.name not in names]
    return problems


def write_editions(folder: Path = NOTEBOOKS) -> list[Path]:
    """Write the student edition of every teacher notebook; returns the files that changed."""
    changed = []
    for teacher in sorted(folder.glob("*.ipynb")):
        path = student_path(teacher)
        text = dumps(student_notebook(json.loads(teacher.read_text())))
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--write" in args:
        for path in write_editions():
            print(f"wrote {path}")
        return 0
    problems = stale_editions()
    for problem in problems:
        print(problem)
    if problems:
        print("run: python -m ganhelpers.editions --write")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

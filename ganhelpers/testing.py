"""pytest plugin (enabled in pyproject.toml): every test and notebook runs in smoke mode.

Set before any kernel starts, so nbval's notebook kernels inherit it: embedded data, a few dozen
steps, no network, a non-interactive matplotlib backend, and one CPU thread per process.

One thread: smoke mode trains tiny networks, for which a second thread gains little; on a busy
machine (a laptop in class, a shared CI runner) torch's threads fight over the cores (measured in
ganhelpers/TUNING.md). Export OMP_NUM_THREADS yourself to override.
"""
import os


def pytest_configure(config):
    os.environ["GANHELPERS_MODE"] = "smoke"
    os.environ.setdefault("MPLBACKEND", "Agg")
    threads = os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the notebook kernels
    import torch
    torch.set_num_threads(int(threads))  # this process (unit tests) too


def pytest_collection_modifyitems(session, config, items):
    """Before each exercise cell of a teacher notebook, run its student edition and its wrong solutions
    against its self-check.

    nbval runs the teacher edition cell by cell in one kernel. For every solution an exercise cell holds,
    an extra cell runs, in that kernel and so with everything the notebook has built so far, the cell as the
    student edition has it (that solution replaced by its stub, `ganhelpers.editions`) and then the
    self-check under it, which must fail on the stub: no check passes on nothing. Then each deliberately
    wrong solution the cell's metadata carries (`ganhelpers.editions.wrong_solutions`) runs in the solution's
    place, and the check must reject it with an AssertionError, its message saying what is wrong. The
    teacher's cell and check then run as usual and must pass.
    """
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: no notebooks are collected either
        return
    import nbformat

    from . import editions

    out = []
    for index, item in enumerate(items):
        if isinstance(item, IPyNbCell) and editions.has_solution(item.cell.source):
            check = next((later for later in items[index + 1:]
                          if isinstance(later, IPyNbCell) and later.parent is item.parent), None)
            if check is None:
                raise ValueError(f"{item.nodeid}: an exercise cell needs its self-check in the next code cell")
            label = _exercise_label(item, editions)
            runs = []  # (name, runner, the cell's source as run, what it is)
            for only in range(editions.count_solutions(item.cell.source)):
                runs.append((f"unsolved {only + 1}", "expect_unsolved_to_fail",
                             editions.strip_solutions(item.cell.source, label, only=only),
                             f"exercise {label or item.name}, solution {only + 1}: its student edition"))
            for number, wrong in enumerate(editions.wrong_solutions(item.cell), 1):
                runs.append((f"wrong {number}", "expect_wrong_to_fail",
                             editions.with_solution(item.cell.source, wrong["code"], wrong.get("solution", 0)),
                             f"exercise {label or item.name}, wrong solution {number} ({wrong['mistake']})"))
            for name, runner, source, what in runs:
                cell = nbformat.v4.new_code_cell(
                    f"# ganhelpers.testing: {what} must fail its self-check\n"
                    f"from ganhelpers.testing import {runner}\n"
                    f"{runner}({source!r}, {check.cell.source!r}, globals(), {what!r})\n")
                out.append(IPyNbCell.from_parent(item.parent, name=f"{item.name} {name}", cell_num=item.cell_num,
                                                 cell=cell, options=_nbval_options()))
        out.append(item)
    items[:] = out


def _exercise_label(item, editions) -> str:
    nb = item.parent.nb
    index = next(i for i, cell in enumerate(nb.cells) if cell is item.cell)
    return editions.exercise_labels(nb).get(index, "")


def _nbval_options():
    from collections import defaultdict
    return defaultdict(bool, check=False)  # no stored outputs to compare: the cell passes by not raising


def expect_unsolved_to_fail(student: str, check: str, namespace: dict, what: str = "the exercise") -> None:
    """Run an exercise's student-edition source, then its self-check, in `namespace`: the check must fail
    on the stub (NotImplementedError from `ganhelpers.editions`).

    Raises AssertionError when the check passes (it tests nothing of the student's code) or fails for
    another reason (it fails before it ever calls the student's code, so it would fail on a right answer too).
    """
    from .editions import STUB_TAIL

    try:
        _run(student, namespace, what)
    except NotImplementedError as error:  # a stub at the top level of the cell: the student sees it there
        if STUB_TAIL not in str(error):
            raise
    try:
        _run(check, namespace, f"self-check of {what}")
    except NotImplementedError as error:
        if STUB_TAIL not in str(error):
            raise AssertionError(f"{what}: the self-check failed with {error!r}, not on the exercise's stub")
        print(f"{what}: the self-check fails while the exercise is unsolved ({error})")
        return
    except Exception as error:
        raise AssertionError(f"{what}: the self-check failed with {error!r} before it reached the exercise's "
                             "stub: it would fail on a right answer too") from error
    raise AssertionError(f"{what}: the self-check passed on the unsolved exercise: it checks nothing the "
                         "student writes")


def expect_wrong_to_fail(wrong: str, check: str, namespace: dict, what: str = "a wrong solution") -> None:
    """Run an exercise cell holding a deliberately wrong solution, then its self-check, in `namespace`: the
    check must raise AssertionError (a check that explains the mistake), not pass and not crash otherwise."""
    _run(wrong, namespace, what)
    try:
        _run(check, namespace, f"self-check of {what}")
    except AssertionError as error:
        print(f"{what}: caught by the self-check: {error}")
        return
    except Exception as error:
        raise AssertionError(f"{what}: the self-check crashed with {error!r} instead of saying what is wrong "
                             "(assert the shapes and values it needs first)") from error
    raise AssertionError(f"{what}: the self-check passed a wrong solution")


def _run(source: str, namespace: dict, where: str) -> None:
    """exec a cell's source as IPython would (magics translated when IPython is running)."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    code = shell.transform_cell(source) if shell is not None else source
    exec(compile(code, f"<{where}>", "exec"), namespace)

"""Every notebook in full mode on a CPU, offline, with its full settings scaled down by GANHELPERS_REHEARSAL=1.

Each notebook runs in a kernel of the rehearsal environment (the project installed as the set-up cell
installs it), with cwd a folder of its own (so `runs/...` lands there), the download stand-ins as
GANHELPERS_DATA and TORCH_HOME, and site/sitecustomize.py on PYTHONPATH. A notebook whose full SETTINGS
has `resume=False` then runs again in the same folder with `resume=True`, as after a Colab disconnect.
"""
import pytest

import rehearsal_lib as lib

pytestmark = pytest.mark.rehearsal


def _run(path, workdir, kernels_dir, kernel_env, label, python, resume=False):
    result = lib.run_notebook(path, workdir, kernels_dir, kernel_env, label=label, resume=resume)
    lib.RESULTS.append(result)
    print(f"\n{path.name} ({label}): {result.wall:.1f} s wall, slowest cells: {result.slowest()}; "
          f"executed notebook: {result.executed}")
    assert result.kernel_cmd[:1] == [str(python)], f"the kernel ran {result.kernel_cmd}, not the rehearsal's {python}"
    if result.failure:
        pytest.fail(result.failure, pytrace=False)
    return result


@pytest.mark.parametrize("path", lib.NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_full_mode(path, rehearsal_env, kernels_dir, kernel_env, tmp_path_factory):
    import nbformat
    workdir = tmp_path_factory.mktemp(path.stem)
    _run(path, workdir, kernels_dir, kernel_env, "first", rehearsal_env.python)
    if lib.full_settings_with_resume(nbformat.read(path, as_version=4)) is not None:
        _run(path, workdir, kernels_dir, kernel_env, "resumed", rehearsal_env.python, resume=True)


def test_resume_switch_edits_only_the_full_settings():
    """The second run's one edit: `resume=False` -> `resume=True` in the full-mode SETTINGS, nowhere else."""
    import nbformat
    with_resume = []
    for path in lib.NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        i = lib.full_settings_with_resume(nb)
        if i is None:
            continue
        with_resume.append(path.stem)
        before = [c.source for c in nb.cells]
        lib.set_resume_true(nb)
        changed = [k for k, c in enumerate(nb.cells) if c.source != before[k]]
        assert changed == [i]
        b0, b1 = lib._full_block(before[i])
        a0, a1 = lib._full_block(nb.cells[i].source)
        old, new = before[i][b0:b1], nb.cells[i].source[a0:a1]
        assert old.count("resume=False") == 1 and new.count("resume=False") == 0
        assert new.count("resume=True") == old.count("resume=True") + 1
        assert before[i][:b0] == nb.cells[i].source[:a0] and before[i][b1:] == nb.cells[i].source[a1:]
    assert "02_dcgan" in with_resume, with_resume  # the notebook that teaches resuming
    print("notebooks run twice (resume):", with_resume)


def test_setup_cell_command_is_found():
    command = lib.setup_pip_command()
    assert command[0] is lib._SYS_EXECUTABLE and command[1:4] == ["-m", "pip", "install"]
    assert command[-1].startswith("git+https://")

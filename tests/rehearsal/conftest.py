"""Fixtures of the full-mode rehearsal (see README.md here): download stand-ins, the Colab-like environment,
the kernel. Every test in this folder is marked `rehearsal` and runs only when asked for with
`-m rehearsal`; a plain `pytest` of the project deselects them (see pytest_collection_modifyitems).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import rehearsal_lib as lib

HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "rehearsal: the full-mode rehearsal of the notebooks on a CPU (tests/rehearsal); "
                                       "opt-in: pytest -m rehearsal tests/rehearsal")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The rehearsal runs only when the -m expression names it (`-m rehearsal`): a plain `pytest`, whose
    addopts say `-m 'not browser'`, must not build environments and train for hours."""
    if "rehearsal" in (config.option.markexpr or ""):
        return
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]


def pytest_terminal_summary(terminalreporter):
    if not lib.RESULTS:
        return
    terminalreporter.section("full-mode rehearsal: wall time per notebook run")
    for r in lib.RESULTS:
        state = "ok" if r.failure is None else f"FAILED at cell {r.failed_cell}"
        terminalreporter.write_line(f"{r.name:40s} {r.label:8s} {r.wall:8.1f} s  {state}  (slowest: {r.slowest()})")


@pytest.fixture(scope="session")
def standins(tmp_path_factory) -> lib.StandIns:
    """CIFAR-10, MNIST and the FID Inception weights, laid out as their downloads leave them."""
    t = time.perf_counter()
    s = lib.make_standins(tmp_path_factory.mktemp("standins"))
    print(f"\nrehearsal: stand-ins made in {time.perf_counter() - t:.1f} s: GANHELPERS_DATA={s.data_dir} "
          f"TORCH_HOME={s.torch_home}")
    return s


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The folder holding sitecustomize.py, the one test-side switch (CIFAR-10's MD5 check)."""
    return lib.SITE_DIR


@pytest.fixture(scope="session")
def rehearsal_env(tmp_path_factory) -> lib.RehearsalEnv:
    """Python with the project installed the way the set-up cell installs it, from a clone and without
    extras, over what Colab preinstalls. GANHELPERS_REHEARSAL_ENV_DIR=DIR uses the one `rehearsal_lib.py env DIR`
    built beforehand (CI builds it while the main pytest runs, and deletes it); GANHELPERS_REHEARSAL_PYTHON=
    /path/to/python uses that interpreter as it is instead (a machine without network where everything is
    preinstalled). An environment built here (several GB: torch's CUDA libraries) is deleted at the session's end."""
    prebuilt = os.environ.get(lib.ENV_DIR_VAR)
    if prebuilt:
        env = lib.built_env(Path(prebuilt))
        print(f"\nrehearsal: {lib.ENV_DIR_VAR}={prebuilt}: the environment built beforehand, in "
              f"{', '.join(f'{k} {v:.0f} s' for k, v in env.seconds.items())}; versions {env.after}")
        if env.changed():
            print("rehearsal: WARNING: " + lib.changed_message(env))
        yield env
        return
    given = os.environ.get(lib.ENV_PYTHON_VAR)
    if given:
        env = lib.given_env(given)
        print(f"\nrehearsal: {lib.ENV_PYTHON_VAR}={given} used as is: {env.after}")
        yield env
        return
    where = tmp_path_factory.mktemp("env")
    t = time.perf_counter()
    env = lib.build_env(where)
    print(f"\nrehearsal: environment built in {time.perf_counter() - t:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in env.seconds.items())}); versions {env.after}")
    if env.changed():
        print("rehearsal: WARNING: " + lib.changed_message(env))
    yield env
    shutil.rmtree(where / "venv", ignore_errors=True)  # keep build.log, versions.json and the clone


@pytest.fixture(scope="session")
def kernels_dir(rehearsal_env, tmp_path_factory) -> Path:
    return lib.write_kernelspec(rehearsal_env.python, tmp_path_factory.mktemp("kernels"))


@pytest.fixture(scope="session")
def kernel_env(standins, rehearsal_env, tmp_path_factory) -> dict:
    """The kernel's environment, set explicitly (the ganhelpers.testing plugin sets smoke mode in this process)."""
    return lib.kernel_env(standins, rehearsal_env.python, tmp_path_factory.mktemp("ipython"))

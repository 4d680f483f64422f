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

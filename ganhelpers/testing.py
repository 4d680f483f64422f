"""pytest plugin (enabled in pyproject.toml): every test and notebook runs in smoke mode.

Set before any kernel starts, so nbval's notebook kernels inherit it: embedded data, a few dozen
steps, no network, a non-interactive matplotlib backend.
"""
import os


def pytest_configure(config):
    os.environ["GANHELPERS_MODE"] = "smoke"
    os.environ.setdefault("MPLBACKEND", "Agg")

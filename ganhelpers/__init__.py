"""ganhelpers: the shared code behind the GAN teaching notebooks.

Networks (`nets`), losses (`losses`), datasets (`data`), one training loop (`train`), metrics,
plots (`plot`) and live dashboards (`widgets`, imported on demand because it needs ipywidgets).
"""
from .utils import count_params, get_device, rehearse, run_mode, seed_everything

__version__ = "0.1.0"

# The project's repository, in one place: notebook badges and set-up cells are checked against it
# (tests/test_notebooks.py) and rewritten by `python -m ganhelpers.links` when it changes.
REPO_URL = "https://github.com/gan-lessons/gan-notebooks"
BRANCH = "main"

__all__ = ["count_params", "get_device", "rehearse", "run_mode", "seed_everything", "REPO_URL", "BRANCH"]

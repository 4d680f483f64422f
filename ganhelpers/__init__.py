"""ganhelpers: the shared code behind the GAN teaching notebooks.

Folders are layers and depend one way (a test checks it): `data` (datasets, the batch sampler) and `nn`
(network conventions, layers, losses) at the bottom; `core` (the config, the one training loop, callbacks,
checkpoints); `eval` (distances, extractors, scores, metrics) and `viz` (plots, dashboard, explorers);
`models` (one file per family and the registry); `search`; and on top `cli` and `runs`.
"""
from .core.runtime import get_device, rehearse, run_mode, seed_everything
from .nn.conventions import count_params

__version__ = "0.1.0"

# The project's repository, in one place: notebook badges and set-up cells are checked against it
# (tests/test_notebooks.py) and rewritten by `python -m ganhelpers.links` when it changes.
REPO_URL = "https://github.com/gan-lessons/gan-notebooks"
BRANCH = "main"

__all__ = ["count_params", "get_device", "rehearse", "run_mode", "seed_everything", "REPO_URL", "BRANCH"]

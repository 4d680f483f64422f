"""`ModelSpec`: everything the command line, the search and the tests need to know about a model.

They never ask for a model's name: they ask its spec how to build it, how to train it (its steps and
defaults), what data it takes and how to sample and score it (its `task`). See the README's
"Adding a model".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..core.config import TrainConfig
from .tasks import NOISE, Task


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (`ganhelpers.models.MODELS`), declared by its family file in `SPECS`.

    build(img_shape, n_classes, z_dim, **options) -> (G, D); steps(**options) -> (d_step, g_step). The
    options of both are what the search may vary. defaults: `TrainConfig` overrides, checked here.
    sizes: the square image sizes the networks are built for. conditional: G and D take class labels
    (the dataset needs classes). critic: D is a Wasserstein critic with unbounded scores (the search then
    also tries 5 critic steps per G step). z_dim: G's noise size, 0 for a G without noise. task: how the
    model meets data (`tasks.NOISE` or `tasks.PAIRED`): its sampler, progress pictures, samples and scores.
    """
    name: str
    about: str
    build: Callable
    steps: Callable
    defaults: dict = field(default_factory=dict)
    sizes: tuple = (28, 32)
    conditional: bool = False
    critic: bool = False
    z_dim: int = 100
    task: Task = NOISE

    def __post_init__(self):
        try:
            TrainConfig(**self.defaults)
        except (TypeError, ValueError) as e:
            raise ValueError(f"model {self.name!r}: bad defaults {self.defaults}: {e}") from None

    def check(self, shape: tuple, n_classes: int) -> str | None:
        """None when the model can train on data of this shape and class count, else a message saying why not."""
        if len(shape) != 3:  # (2,): a point set
            return (f"model {self.name!r} trains on images but this dataset holds 2-D points "
                    "(the 2-D mixtures are for notebook 00_gan_game)")
        c, h, w = shape
        if h != w or h not in self.sizes:
            return f"model {self.name!r} is built for {' or '.join(map(str, self.sizes))}-pixel images, not {h}x{w}"
        if self.conditional and not n_classes:
            return f"model {self.name!r} is conditional: it needs a dataset with classes"
        return None

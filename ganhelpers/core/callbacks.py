"""Callbacks: how code other than the loop hooks into training (minGPT's pattern, with typed hooks).

`Callback` is the base; a callback with state a resumed run needs keeps it in the checkpoint through
`state_dict`/`load_state_dict`. Here too the two callbacks every family may use: `EMA` (an average of G's
weights) and `FixedInputs` (what progress pictures feed G). Dashboards, sample grids and metrics are
callbacks in `ganhelpers.viz` and `ganhelpers.eval`.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .trainer import Trainer



class Callback:
    """Hooks the loop calls; override what you need. `trainer` gives access to everything.

    A callback that holds state a resumed run needs (EMA's average, say) returns it from `state_dict()`
    (tensors and plain types) and takes it back in `load_state_dict()`: the trainer keeps it inside
    checkpoint.pt, so weights and callback state are always from the same step. `on_step_end` runs before
    the periodic checkpoint, so what a callback does at a checkpoint step is in that checkpoint.
    """

    def on_train_start(self, trainer: "Trainer"): ...
    def on_step_end(self, trainer: "Trainer"): ...
    def on_log(self, trainer: "Trainer", logs: dict): ...
    def on_train_end(self, trainer: "Trainer"): ...
    def state_dict(self) -> dict: return {}
    def load_state_dict(self, state: dict) -> None: ...



class EMA(Callback):
    """Keeps `G_ema`, an exponential moving average of G's weights: after every step
    w_ema <- decay * w_ema + (1 - decay) * w (a plain copy for the first `start` steps); buffers
    (batch-norm statistics, spectral-norm vectors) are copied. Averaging smooths out the last
    oscillations of the game, so G_ema's samples are usually cleaner (Yazici et al. 2019; BigGAN).

    The average is part of the trainer's checkpoint (`state_dict`), so a resumed run continues it exactly;
    `trainer.G_ema` points at it, which is what MetricCallback scores (list EMA before MetricCallback).
    `sample(z, labels)` draws from G_ema in eval mode.
    Taught in 07_sagan.
    """

    def __init__(self, decay: float = 0.999, start: int = 0):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay={decay} must be in [0, 1)")
        self.decay, self.start, self.G_ema, self._saved = decay, start, None, None

    def on_train_start(self, trainer):
        if self.G_ema is None:  # a second fit() of the same trainer keeps averaging
            self.G_ema = copy.deepcopy(trainer.G).eval().requires_grad_(False)
        if self._saved is not None:  # a resumed run: the average of the checkpoint's step
            self.G_ema.load_state_dict(self._saved)
            self._saved = None
        trainer.G_ema = self.G_ema  # what MetricCallback (listed after this callback) and notebooks sample

    @torch.no_grad()
    def on_step_end(self, trainer):
        decay = self.decay if trainer.step > self.start else 0.0
        for ema_p, p in zip(self.G_ema.parameters(), trainer.G.parameters()):
            ema_p.lerp_(p.detach().to(ema_p.dtype), 1.0 - decay)
        for ema_b, b in zip(self.G_ema.buffers(), trainer.G.buffers()):
            ema_b.copy_(b)

    def state_dict(self) -> dict:
        return {"G_ema": self.G_ema.state_dict()} if self.G_ema is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        else:
            self._saved = state["G_ema"]  # applied when training starts and G_ema exists

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.G_ema is None:
            raise RuntimeError("EMA has no averaged G yet: pass it to a Trainer in callbacks=[...] and train")
        return self.G_ema(z, labels)


class FixedInputs(Callback):
    """Makes progress pictures (`trainer.sample_fixed()`: the dashboard, sample grids) show G on these inputs
    instead of the trainer's fixed noise, e.g. the first test conditions (n, C_in, H, W) in [-1, 1] of an
    image-to-image model."""

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor | None = None):
        self.inputs, self.labels = inputs, labels

    def on_train_start(self, trainer):
        trainer.set_fixed_inputs(self.inputs, self.labels)

"""TensorBoard logging as a training callback (optional: needs `pip install tensorboard`).

    from ganhelpers.tensorboard import TensorBoardLogger
    trainer = Trainer(G, D, d_step, g_step, data, config, callbacks=[TensorBoardLogger("runs/tb/dcgan")])

then `tensorboard --logdir runs/tb` in a terminal, or in a notebook (Colab included):

    %load_ext tensorboard
    %tensorboard --logdir runs/tb

Scalars: every history row (`train/loss_D`, `train/loss_G`, `train/D_real`, `train/D_fake` and any
extra a step returns, such as `train/gp`) and every metric column (`metrics/fid`, ...) at the step
it was measured. Images: the fixed-noise sample grid (`samples`) at the start, every `images_every`
steps and at the end; for 2-D point data a scatter plot instead. Several runs under one parent
folder show up side by side in TensorBoard, which is the reason to use it over the dashboard.
TensorBoard is not a dependency of ganhelpers: without it, creating the logger raises an ImportError
that says how to install it (`pip install tensorboard`, or `pip install -e ".[tensorboard]"`).
"""
from __future__ import annotations

from pathlib import Path

from ..core.callbacks import Callback
from . import plot
from .plot import metric_columns

INSTALL_HINT = "pip install tensorboard (or, from the repository, pip install -e \".[tensorboard]\")"


def summary_writer_class():
    """torch's `SummaryWriter`, or an ImportError saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ImportError(f"TensorBoardLogger needs the optional tensorboard package: {INSTALL_HINT} "
                          f"(import failed: {e})") from e
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Logs scalars and sample grids of a run to `log_dir` for TensorBoard.

    log_dir: the run's event folder (created); give each run its own, under one parent for comparing.
    images_every: log the fixed-noise grid every this many steps (0: only at the start and the end).
    nrow: images per row of the grid. The writer is created when training starts and closed at the end,
    so one logger serves one `fit()`; a resumed run appends to the same folder.
    """

    def __init__(self, log_dir, images_every: int = 500, nrow: int = 8):
        self._writer_class = summary_writer_class()  # fail now, before any training, when it is missing
        if not isinstance(images_every, int) or images_every < 0:
            raise ValueError(f"images_every={images_every!r} must be a whole number >= 0 (0: start and end only)")
        self.log_dir, self.images_every, self.nrow = Path(log_dir), images_every, nrow
        self.writer = None
        self._metric_counts: dict[str, int] = {}  # metric column -> how many values are logged already

    def on_train_start(self, trainer):
        self.writer = self._writer_class(log_dir=str(self.log_dir))
        meta = ", ".join(f"{k}={v}" for k, v in getattr(trainer, "meta", {}).items()) or "-"
        self.writer.add_text("run", f"{meta}; config: {trainer.config}", trainer.step)
        self._metric_counts = {k: len(trainer.history.get(k, [])) for k in metric_columns(trainer.history)}
        self.log_samples(trainer)

    def on_log(self, trainer, logs: dict):
        if self.writer is None:
            return
        step = logs.get("step", trainer.step)
        for key, value in logs.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, step)
        self._log_metrics(trainer)

    def on_step_end(self, trainer):
        if self.writer is not None and self.images_every and trainer.step % self.images_every == 0:
            self.log_samples(trainer)

    def on_train_end(self, trainer):
        if self.writer is None:
            return
        self._log_metrics(trainer)
        if not (self.images_every and trainer.step % self.images_every == 0):
            self.log_samples(trainer)  # the final grid, unless on_step_end has just logged it
        self.writer.flush()
        self.writer.close()
        self.writer = None

    def log_samples(self, trainer) -> None:
        """Log the fixed-noise samples at the current step: an image grid, or a scatter plot for points."""

        samples = trainer.sample_fixed()  # (n, C, H, W) in [-1, 1], or (n, 2) points
        if samples.dim() == 4:
            grid = plot.image_grid(samples, nrow=self.nrow)  # (H, W, 3) uint8
            self.writer.add_image("samples", grid, trainer.step, dataformats="HWC")
        else:
            real, centers = plot.real_points(trainer)
            fig, ax = plot.new_figure(1, figsize=(4.2, 4.2))
            plot.scatter_points(real, samples, ax=ax, centers=centers, title=f"step {trainer.step}")
            self.writer.add_figure("samples", fig, trainer.step, close=True)

    def _log_metrics(self, trainer) -> None:
        history = trainer.history
        for key in metric_columns(history):
            done = self._metric_counts.get(key, 0)
            for step, value in list(zip(history[f"{key}_step"], history[key]))[done:]:
                self.writer.add_scalar(f"metrics/{key}", value, step)
            self._metric_counts[key] = len(history[key])

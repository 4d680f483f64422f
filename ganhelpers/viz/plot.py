"""Static figures: sample grids, training curves, 2-D point clouds and class-by-row grids.

Conventions, so the same helpers serve notebooks, the command line and the live dashboard:
- images are float tensors (N, C, H, W) in [-1, 1] (a tanh generator's range), C = 1 or 3;
- functions named `plot_*` / `training_figure` return a matplotlib `Figure` (a notebook shows it
  when it is the cell's last value; a script calls `fig.savefig`); `show_*` and `scatter_points` draw
  on the `ax` given, or on a new figure that they display at once in a notebook;
- figures are created through pyplot (so notebooks know how to display them) and closed at once, so
  repeated calls (the dashboard redraws hundreds of times) never pile figures up in pyplot, and the
  inline backend never shows a figure twice.
pyplot is imported inside the functions: importing this module is cheap and needs no display.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..data.sets import to_uint8
from ..nn.conventions import device_of, eval_mode

# history columns with their own meaning; everything else is a per-step extra or a metric
LOSS_KEYS = ("loss_D", "loss_G")
D_KEYS = ("D_real", "D_fake")  # D's output as probabilities (a classifier)
CRITIC_KEYS = ("critic_real", "critic_fake")  # raw scores of a critic (Wasserstein, hinge): unbounded


# ----------------------------------------------------------------------------- image grids

def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Tile a batch of images into one RGB picture.

    images: (N, C, H, W) (or one (C, H, W) image) float in [-1, 1], C = 1 or 3; values outside
    [-1, 1] are clamped, NaN shows as black. nrow: images per row. padding: pixels of white between
    tiles (white, so the black background of MNIST digits still shows where each tile ends).
    Returns (H', W', 3) uint8 in [0, 255]: -1 -> 0, 0 -> 128, 1 -> 255 (the inverse of the datasets'
    `to_float`). Grey images come back as three equal channels.
    """
    from torchvision.utils import make_grid

    if not torch.is_tensor(images):
        images = torch.as_tensor(np.asarray(images))
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.size(1) not in (1, 3):
        raise ValueError(f"image_grid wants (N, C, H, W) images with C = 1 or 3, got shape {tuple(images.shape)}"
                         + (" (2-D points: use scatter_points)" if images.dim() == 2 else ""))
    pixels = to_uint8(torch.nan_to_num(images.detach().cpu().float(), nan=-1.0))  # (N, C, H, W) uint8
    # make_grid pads with pad_value and turns one channel into three; 255 is a white border
    grid = make_grid(pixels, nrow=nrow, padding=padding, pad_value=255)  # (3, H', W') uint8
    return grid.permute(1, 2, 0).contiguous().numpy()


def array_to_png(array: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W) uint8 -> PNG file bytes (Pillow, no matplotlib: fast enough for a live view)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="png")
    return buffer.getvalue()


def save_grid(images: torch.Tensor, path, nrow: int = 8, padding: int = 2) -> Path:
    """Write `image_grid(images, nrow, padding)` as a PNG at `path` (parent folders are created).

    images: (N, C, H, W) float in [-1, 1]. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(array_to_png(image_grid(images, nrow=nrow, padding=padding)))
    return path


def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None):
    """Draw `image_grid(images, nrow)` on `ax` (or on a new figure, displayed in a notebook); returns the axis.

    images: (N, C, H, W) float in [-1, 1].
    """
    grid = image_grid(images, nrow=nrow)
    own = ax is None
    if own:
        height, width = grid.shape[:2]
        scale = 6.0 / max(height, width)  # the longer side is 6 inches, whatever the grid's shape
        _, ax = new_figure(1, figsize=(max(width * scale, 1.0), max(height * scale, 1.0)))
    ax.imshow(grid, interpolation="nearest")  # nearest: 28-pixel digits stay crisp, not blurred
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if own:
        display_figure(ax.figure)
    return ax


# ----------------------------------------------------------------------------- training curves

def metric_columns(history: dict) -> list[str]:
    """Names of metric columns: those measured at their own steps, listed in "<name>_step"."""
    return [k for k in history if f"{k}_step" in history and k != "step" and len(history[k])]


def plot_history(history: dict, axes=None):
    """Training curves from `trainer.history`; returns the figure.

    history: column -> list of floats, with "step"; read here: "loss_D", "loss_G" (first panel),
    "D_real", "D_fake" or "critic_real", "critic_fake" (second panel) and any metric column "<name>" that has a
    "<name>_step" column (e.g. "fid" measured every 1000 steps): a third panel, or a twin axis on the
    losses panel when only two `axes` are given. Other per-step columns (e.g. a gradient penalty "gp")
    are left out; plot them from the history yourself.
    The keys say what the second panel shows: D_real/D_fake are probabilities in [0, 1] (BCE GANs), drawn
    in [0, 1] with a dashed line at 0.5 ("equilibrium": where D can no longer tell real from fake);
    critic_real/critic_fake are a critic's unbounded scores (WGAN, hinge), drawn as they are.
    axes: 2 or 3 matplotlib axes to draw on; None makes a new figure with 2 panels (3 with metrics).
    """
    metrics = metric_columns(history)
    if axes is None:
        fig, axes = new_figure(3 if metrics else 2, figsize=(13 if metrics else 10, 3.2))
    axes = list(np.ravel(axes))
    if len(axes) < 2:
        raise ValueError(f"plot_history needs 2 or 3 axes (losses, D outputs[, metrics]), got {len(axes)}")
    steps = list(history.get("step", []))
    loss_ax, d_ax = axes[0], axes[1]

    for key in LOSS_KEYS:
        if key in history:
            loss_ax.plot(*_aligned(steps, history[key]), label=key, linewidth=1.2)
    loss_ax.set(title="losses", xlabel="step")

    critic = is_critic(history)
    names = {"D_real": "D(x), real", "D_fake": "D(G(z)), fake", "critic_real": "f(x), real",
             "critic_fake": "f(G(z)), fake"}
    for key, color in zip(CRITIC_KEYS if critic else D_KEYS, ("tab:green", "tab:red")):
        if key in history:
            d_ax.plot(*_aligned(steps, history[key]), label=names[key], color=color, linewidth=1.2)
    if not critic:
        d_ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="equilibrium")
        d_ax.set_ylim(-0.02, 1.02)
        d_ax.set(title="D's output (probability of real)", xlabel="step")
    else:
        d_ax.set(title="critic scores", xlabel="step")

    if metrics:
        # a third panel when there is one; otherwise share the losses panel on a second y scale
        metric_ax = axes[2] if len(axes) > 2 else loss_ax.twinx()
        colors = ["tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink"]
        for i, key in enumerate(metrics):
            metric_ax.plot(*_aligned(history[f"{key}_step"], history[key]), marker="o", markersize=3,
                           label=key, color=colors[i % len(colors)])
        if len(axes) > 2:
            metric_ax.set(title="metrics", xlabel="step")
        else:
            metric_ax.set_ylabel(", ".join(metrics))
        metric_ax.legend(loc="upper right", fontsize=8)

    for ax in (loss_ax, d_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left" if ax is loss_ax and metrics and len(axes) < 3 else "best", fontsize=8)
        ax.grid(alpha=0.3)
    fig = loss_ax.figure
    tight_layout(fig)
    return fig


def is_critic(history_or_logs: dict) -> bool:
    """Whether a history (or one logged row) holds a critic's scores rather than D's probabilities."""
    return any(key in history_or_logs for key in CRITIC_KEYS)


def _aligned(steps, values):
    """Cut x and y to a common length: a history cut short by a crash or a stop still plots."""
    n = min(len(steps), len(values))
    return list(steps)[:n], list(values)[:n]


def training_figure(history: dict, samples: torch.Tensor | None = None, nrow: int = 8, real=None, centers=None, title: str | None = None, figsize=None):
    """One summary figure: `plot_history` panels, then the samples on the right; returns the figure.

    samples: (N, C, H, W) images in [-1, 1] (shown as a grid of `nrow` per row) or (N, 2) points
    (shown with `scatter_points` over `real` (M, 2) and `centers` (K, 2)); None: curves only.
    """
    n_curves = 3 if metric_columns(history) else 2
    n = n_curves + (samples is not None)
    fig, axes = new_figure(n, figsize=figsize or (3.6 * n, 3.4))
    axes = list(np.ravel(axes))
    plot_history(history, axes=axes[:n_curves])
    if samples is not None:
        if samples.dim() == 2:
            scatter_points(real, samples, ax=axes[-1], centers=centers)
        else:
            show_grid(samples, nrow=nrow, ax=axes[-1], title="fixed-noise samples")
    if title:
        fig.suptitle(title)
    tight_layout(fig)
    return fig


def show_history(trainer_or_history, nrow: int = 8):
    """Display a summary of a run (curves and, given a trainer, its fixed-noise samples); returns the figure.

    trainer_or_history: a `Trainer` (after or during `fit`) or a history dict (e.g. from a checkpoint).
    """
    trainer = None if isinstance(trainer_or_history, dict) else trainer_or_history
    history = trainer_or_history if trainer is None else trainer.history
    samples = trainer.sample_fixed() if trainer is not None else None
    real, centers = real_points(trainer)
    fig = training_figure(history, samples, nrow=nrow, real=real, centers=centers)
    display_figure(fig)
    return fig


# ----------------------------------------------------------------------------- 2-D points

def real_points(trainer, n: int = 2000):
    """(real (≤n, 2), centers (K, 2)) of a trainer training on 2-D points, else (None, None)."""
    data = getattr(getattr(trainer, "sampler", None), "data", None)
    points = getattr(data, "points", None)
    if points is None:
        return None, None
    return points[:n], getattr(data, "centers", None)


def scatter_points(real, fake, ax=None, centers=None, title: str | None = None):
    """2-D point clouds: real points small and grey, fake ones coloured, mode centres as black crosses.

    real: (N, 2) or None; fake: (M, 2) (tensors or arrays, e.g. `trainer.sample_fixed()` for point
    data); centers: (K, 2) or None. Draws on `ax`, or on a new square figure displayed in a notebook;
    returns the axis.
    """
    own = ax is None
    if own:
        _, ax = new_figure(1, figsize=(4.2, 4.2))
    if real is not None:
        real = _as_points(real)
        ax.scatter(real[:, 0], real[:, 1], s=4, c="0.6", alpha=0.5, label="real", linewidths=0)
    fake = _as_points(fake)
    ax.scatter(fake[:, 0], fake[:, 1], s=8, c="tab:orange", alpha=0.8, label="fake (G)", linewidths=0)
    if centers is not None:
        centers = _as_points(centers)
        ax.scatter(centers[:, 0], centers[:, 1], s=40, c="black", marker="x", label="modes")
    ax.set_aspect("equal", adjustable="datalim")  # equal: a ring of modes should look like a ring
    ax.legend(loc="upper right", fontsize=8, markerscale=2)
    ax.set_title(title or "samples")
    ax.grid(alpha=0.3)
    if own:
        display_figure(ax.figure)
    return ax


def _as_points(x) -> np.ndarray:
    x = x.detach().float().cpu().numpy() if torch.is_tensor(x) else np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {x.shape}")
    return x


# ----------------------------------------------------------------------------- conditional grids

@torch.no_grad()
def class_grid(G, n_classes: int, per_class: int = 8, z_dim: int | None = None, device=None,
               seed: int = 0) -> torch.Tensor:
    """Samples of a conditional generator, one row per class: (n_classes * per_class, C, H, W) on CPU.

    G: called as `G(z, labels)` with z (B, z_dim), labels (B,) int64. Column j uses the same z in every
    row, so along a column only the class changes (style stays, content changes). The noise comes from
    its own generator seeded with `seed`: the global RNG, and so training, is untouched.
    Show it with `show_grid(grid, nrow=per_class)`.
    """
    z_dim = z_dim or G.z_dim
    device = device or device_of(G)
    z = torch.randn(per_class, z_dim, generator=torch.Generator().manual_seed(seed))  # (per_class, z_dim)
    z = z.repeat(n_classes, 1).to(device)  # (n_classes * per_class, z_dim): row r is z again
    labels = torch.arange(n_classes).repeat_interleave(per_class).to(device)  # 0,0,..,1,1,..
    with eval_mode(G):  # batch norm in eval mode: a sample must not depend on the rest of the batch
        images = G(z, labels)
    return images.float().cpu()


# ----------------------------------------------------------------------------- figure plumbing

def new_figure(ncols: int = 1, figsize=(6.4, 4.8)):
    """(figure, axes) with `ncols` panels in a row, already closed in pyplot (see the module docstring)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=figsize, squeeze=ncols == 1)
    plt.close(fig)
    return fig, (axes if ncols == 1 else list(axes[0]))


def figure_to_png(fig, dpi: int = 80) -> bytes:
    """Render a figure to PNG file bytes (for an `ipywidgets.Image` or a file)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def tight_layout(fig) -> None:
    """fig.tight_layout(), quietly: it gives up on some twin-axis layouts, and a cramped figure is fine."""
    import warnings

    # tight_layout gives up (with a warning) on some twin-axis layouts; a cramped figure is fine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fig.tight_layout()
        except Exception:
            pass


def display_figure(fig) -> None:
    """Show a figure now in IPython/Jupyter; outside IPython do nothing (scripts save figures instead)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from IPython.display import display
        display(fig)

"""Where a self-attention layer looks (taught in 07_sagan): one query pixel's attention weights over the
image, as a picture."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .plot import image_grid


def attention_for_query(beta: torch.Tensor, query, image_size: int) -> torch.Tensor:
    """Where output pixel `query` = (row, col) of the image looks: beta (B, N, N) at an attention map
    of side s = sqrt(N) -> (B, image_size, image_size) weights, upsampled (nearest) from (B, s, s).

    The query pixel falls in cell (row * s // image_size, col * s // image_size) of the attention map;
    that cell's row of beta sums to 1 over the s*s cells, and upsampling spreads each cell's weight
    over its (image_size / s)^2 pixels unchanged (so the picture sums to (image_size / s)^2).
    Taught in 07_sagan.
    """
    b, n, _ = beta.shape
    s = round(n ** 0.5)
    row, col = query
    if not (0 <= row < image_size and 0 <= col < image_size):
        raise ValueError(f"query {query} is outside the {image_size}x{image_size} image")
    j = (row * s // image_size) * s + col * s // image_size  # flat index of the query's cell
    weights = beta[:, j, :].view(b, 1, s, s)  # (B, 1, s, s)
    return F.interpolate(weights, size=(image_size, image_size), mode="nearest")[:, 0]  # (B, H, W)


def plot_attention(images: torch.Tensor, beta: torch.Tensor, queries, titles=None):
    """A figure: for each image (rows) and query pixel (columns), the image with the query marked
    and the attention weights over positions laid over it. images (B, C, H, W) in [-1, 1].
    Taught in 07_sagan.
    """
    import matplotlib.pyplot as plt


    size = images.shape[-1]
    fig, axes = plt.subplots(len(images), len(queries) + 1, figsize=(2.2 * (len(queries) + 1), 2.2 * len(images)),
                             squeeze=False)
    plt.close(fig)
    for i, image in enumerate(images):
        picture = image_grid(image, nrow=1, padding=0)  # (H, W, 3) uint8
        axes[i][0].imshow(picture)
        axes[i][0].set_title(titles[i] if titles else "sample", fontsize=8)
        for k, query in enumerate(queries):
            ax = axes[i][k + 1]
            weights = attention_for_query(beta[i:i + 1], query, size)[0]  # (H, W)
            ax.imshow(picture, alpha=0.55)
            ax.imshow(weights.cpu(), cmap="inferno", alpha=0.6)
            ax.plot(query[1], query[0], marker="x", color="cyan", markersize=9, mew=2)
            ax.set_title(f"query ({query[0]}, {query[1]})", fontsize=8)
    for ax in fig.axes:
        ax.set_axis_off()
    fig.tight_layout()
    return fig

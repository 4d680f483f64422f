import io
import types

import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from ganhelpers.viz import plot  # noqa: E402


def history(n=5, metrics=True, critic=False):
    h = {"step": [10 * (i + 1) for i in range(n)],
         "loss_D": [1.0 - 0.1 * i for i in range(n)], "loss_G": [0.7 + 0.1 * i for i in range(n)],
         "D_real": [0.6 + 0.02 * i for i in range(n)], "D_fake": [0.4 - 0.02 * i for i in range(n)],
         "gp": [0.1] * n}
    if critic:  # a critic logs raw scores under their own names
        h["critic_real"], h["critic_fake"] = [3.0 + i for i in range(n)], [-2.0 - i for i in range(n)]
        del h["D_real"], h["D_fake"]
    if metrics:  # measured at their own, fewer steps
        h.update({"fid": [90.0, 70.0], "fid_step": [20, 40], "judge_fd": [3.0], "judge_fd_step": [40]})
    return h


@pytest.mark.parametrize("channels", [1, 3])
def test_image_grid_shape_dtype_and_value_mapping(channels):
    images = torch.zeros(3, channels, 4, 5)
    images[0] = -1.0
    images[1] = 1.0
    images[2] = 0.0
    grid = plot.image_grid(images, nrow=2, padding=2)
    # 2 rows x 2 columns of 4x5 tiles, 2-pixel borders around and between them
    assert grid.shape == (2 + 2 * (4 + 2), 2 + 2 * (5 + 2), 3) and grid.dtype == np.uint8
    tile = lambda r, c: grid[2 + r * 6: 2 + r * 6 + 4, 2 + c * 7: 2 + c * 7 + 5]  # noqa: E731
    assert (tile(0, 0) == 0).all()      # -1 -> black
    assert (tile(0, 1) == 255).all()    # 1 -> white
    assert (tile(1, 0) == 128).all()    # 0 -> mid grey
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()  # white padding


def test_image_grid_keeps_colour_channels_in_order_and_clamps():
    image = torch.stack([torch.full((2, 2), -1.0), torch.full((2, 2), 0.0), torch.full((2, 2), 7.0)])  # (3, 2, 2)
    grid = plot.image_grid(image, padding=0)  # a single (C, H, W) image is fine too
    assert grid.shape == (2, 2, 3)
    assert grid[0, 0].tolist() == [0, 128, 255]  # R, G, B; 7.0 clamped to 1 -> 255


def test_image_grid_rejects_points_and_odd_channels():
    with pytest.raises(ValueError, match="scatter_points"):
        plot.image_grid(torch.zeros(8, 2))
    with pytest.raises(ValueError, match="C = 1 or 3"):
        plot.image_grid(torch.zeros(2, 2, 4, 4))


def test_save_grid_writes_a_readable_png(tmp_path):
    images = torch.rand(10, 3, 8, 8) * 2 - 1
    path = plot.save_grid(images, tmp_path / "a" / "b" / "grid.png", nrow=5)
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(pixels, plot.image_grid(images, nrow=5))


def test_show_grid_draws_on_the_given_axis():
    fig, ax = plot.new_figure(1)
    assert plot.show_grid(torch.zeros(4, 1, 6, 6), nrow=2, title="t", ax=ax) is ax
    assert ax.images[0].get_array().shape == (2 + 2 * 8, 2 + 2 * 8, 3) and ax.get_title() == "t"


def test_plot_history_panels_and_lines():
    fig = plot.plot_history(history(metrics=False))
    loss_ax, d_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["loss_D", "loss_G"]  # "gp" is left out
    assert [line.get_label() for line in d_ax.lines] == ["D(x), real", "D(G(z)), fake", "equilibrium"]
    equilibrium = d_ax.lines[2]
    assert equilibrium.get_linestyle() == "--" and list(equilibrium.get_ydata()) == [0.5, 0.5]
    assert list(loss_ax.lines[0].get_xdata()) == [10, 20, 30, 40, 50]

    critic = plot.plot_history(history(metrics=False, critic=True))  # the keys decide: raw critic scores
    assert [line.get_label() for line in critic.axes[1].lines] == ["f(x), real", "f(G(z)), fake"]  # no 0.5 line
    assert list(critic.axes[1].lines[0].get_ydata()) == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert critic.axes[1].get_ylim()[1] > 1.02  # not squeezed into [0, 1]


def test_is_critic_reads_the_keys():
    assert plot.is_critic(history(critic=True)) and plot.is_critic({"critic_real": 1.0})
    assert not plot.is_critic(history()) and not plot.is_critic({})
    assert set(plot.CRITIC_KEYS) == {"critic_real", "critic_fake"}


def test_plot_history_metric_columns_of_other_lengths():
    fig = plot.plot_history(history())
    assert len(fig.axes) == 3
    metric_lines = {line.get_label(): line for line in fig.axes[2].lines}
    assert set(metric_lines) == {"fid", "judge_fd"}
    assert list(metric_lines["fid"].get_xdata()) == [20, 40] and list(metric_lines["judge_fd"].get_ydata()) == [3.0]

    # only two axes given: metrics go on a twin axis of the losses panel
    fig2, axes = plot.new_figure(2)
    plot.plot_history(history(), axes=axes)
    assert len(fig2.axes) == 3 and {line.get_label() for line in fig2.axes[2].lines} == {"fid", "judge_fd"}


def test_plot_history_copes_with_ragged_and_empty_histories():
    h = history(metrics=False)
    h["loss_D"] = h["loss_D"][:3]  # e.g. a row cut short
    fig = plot.plot_history(h)
    assert len(fig.axes[0].lines[0].get_xdata()) == 3
    plot.plot_history({"step": []})


def test_training_figure_with_images_and_with_points():
    fig = plot.training_figure(history(), torch.zeros(16, 1, 8, 8), nrow=4)
    assert len(fig.axes) == 4 and fig.axes[3].images  # curves, D, metrics, samples
    points = plot.training_figure(history(metrics=False), torch.randn(50, 2), real=torch.randn(80, 2))
    assert len(points.axes) == 3 and len(points.axes[2].collections) == 2


def test_scatter_points():
    fig, ax = plot.new_figure(1)
    real, fake, centers = torch.randn(100, 2), np.random.randn(30, 2), torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    assert plot.scatter_points(real, fake, ax=ax, centers=centers) is ax
    assert len(ax.collections) == 3  # real, fake, centres
    np.testing.assert_allclose(ax.collections[1].get_offsets(), fake, rtol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["real", "fake (G)", "modes"]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.scatter_points(None, torch.zeros(5, 3), ax=ax)


def test_figure_to_png_returns_png_bytes():
    data = plot.figure_to_png(plot.plot_history(history()))
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size[0] > 100 and im.size[1] > 50


def test_figures_do_not_pile_up_in_pyplot():
    before = plt.get_fignums()
    for _ in range(3):
        plot.training_figure(history(), torch.zeros(4, 3, 8, 8))
        plot.show_grid(torch.zeros(4, 3, 8, 8))
    assert plt.get_fignums() == before


class TinyConditionalG(nn.Module):
    """Output pixel = label + first noise coordinate, so rows and columns can be read back."""

    def __init__(self, z_dim=3):
        super().__init__()
        self.z_dim, self.n_classes = z_dim, 4
        self.bn = nn.BatchNorm1d(1)  # only to check eval mode is restored

    def forward(self, z, labels):
        value = labels.float() + z[:, 0]  # (B,)
        return value.view(-1, 1, 1, 1).expand(-1, 1, 2, 2)  # (B, 1, 2, 2)


def test_class_grid_rows_are_classes_and_columns_share_noise():
    G = TinyConditionalG()
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    grid = plot.class_grid(G, n_classes=4, per_class=3, seed=1)
    assert torch.equal(torch.rand(1), expected_next)  # global RNG untouched
    assert grid.shape == (12, 1, 2, 2) and G.training  # train mode restored
    values = grid[:, 0, 0, 0].view(4, 3)  # (class, column)
    noise = values - torch.arange(4).float().view(4, 1)
    assert torch.allclose(noise, noise[0].expand(4, 3))  # same z down each column
    assert torch.equal(plot.class_grid(G, 4, per_class=3, seed=1), grid)  # repeatable


def test_show_history_from_a_history_or_a_trainer(monkeypatch):
    shown = []
    monkeypatch.setattr(plot, "display_figure", shown.append)
    fig = plot.show_history(history())
    assert shown == [fig] and len(fig.axes) == 3  # losses, D outputs, metrics
    trainer = types.SimpleNamespace(history=history(metrics=False, critic=True),
                                    sample_fixed=lambda: torch.zeros(8, 3, 8, 8))
    fig = plot.show_history(trainer)
    assert len(fig.axes) == 3 and fig.axes[2].images  # losses, critic scores, samples
    assert "equilibrium" not in [line.get_label() for line in fig.axes[1].lines]

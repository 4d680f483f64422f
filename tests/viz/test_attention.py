"""Attention pictures: one query pixel's weights over the image, and the figure of several queries."""
import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

import pytest  # noqa: E402
import torch  # noqa: E402

from ganhelpers.models.sagan import SAGANGenerator, generator_attention  # noqa: E402
from ganhelpers.viz.attention import attention_for_query, plot_attention  # noqa: E402


def test_attention_maps_for_a_query():
    torch.manual_seed(0)
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8)
    images, beta = generator_attention(G, torch.randn(3, 16), torch.tensor([0, 1, 2]))  # beta (3, 196, 196)
    weights = attention_for_query(beta, (27, 0), 28)  # bottom-left pixel: cell (13, 0) of the 14x14 map
    assert weights.shape == (3, 28, 28)
    assert torch.allclose(weights.sum(dim=(1, 2)), torch.full((3,), 4.0), atol=1e-4)  # 2x2 pixels per cell
    assert torch.allclose(weights[:, ::2, ::2].flatten(1), beta[:, 13 * 14 + 0], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        attention_for_query(beta, (28, 0), 28)
    fig = plot_attention(images[:2], beta[:2], [(5, 5), (20, 14)])
    assert len(fig.axes) == 2 * 3  # per image: the sample, then one panel per query


def test_a_one_hot_attention_map_lights_exactly_its_cell():
    beta = torch.zeros(1, 16, 16)  # a 4x4 map: every cell looks only at cell 5 = (1, 1)
    beta[0, :, 5] = 1.0
    weights = attention_for_query(beta, (0, 31), 32)  # any query: the same row of beta
    expected = torch.zeros(32, 32)
    expected[8:16, 8:16] = 1.0  # cell (1, 1) of 8x8 pixels each
    assert torch.equal(weights[0], expected)

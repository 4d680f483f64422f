"""PacGAN's networks and the packed discriminator (ganhelpers/models/pacgan.py)."""
import pytest
import torch

from ganhelpers.models.pacgan import Maxout, MaxoutDiscriminator, PacGANGenerator, Packed


def test_maxout_is_the_maximum_of_its_pieces():
    layer = Maxout(3, 4, pieces=5)
    x = torch.randn(6, 3)
    pieces = layer.linear(x).view(6, 4, 5)  # unit u's pieces are outputs 5u .. 5u + 4
    assert torch.equal(layer(x), pieces.amax(2)) and layer(x).shape == (6, 4)


def test_packed_feeds_consecutive_samples_as_one_row():
    seen = {}

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen["x"] = x
            return x.sum(1)

    x = torch.arange(12.0).view(6, 2)  # six 2-D samples
    out = Packed(Spy(), 3)(x)
    assert seen["x"].shape == (2, 6) and torch.equal(seen["x"][0], torch.arange(6.0))  # samples 0, 1, 2
    assert out.shape == (2,)
    with pytest.raises(ValueError, match="divisible by 4"):
        Packed(Spy(), 4)(x)
    with pytest.raises(ValueError, match="at least one"):
        Packed(Spy(), 0)


def test_the_papers_networks_have_their_shapes_and_initialisation():
    torch.manual_seed(0)
    G, D = PacGANGenerator(), MaxoutDiscriminator(packing=2)
    assert G(torch.randn(100, 2)).shape == (100, 2) and D(torch.randn(50, 4)).shape == (50,)
    assert Packed(D, 2)(torch.randn(100, 2)).shape == (50,)
    hidden = [m for m in G.net if isinstance(m, torch.nn.Linear)]
    assert len(hidden) == 5 and all(m.bias is None for m in hidden[:4]) and hidden[4].bias is not None
    weights = torch.cat([m.weight.flatten() for m in hidden])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)  # N(0, 0.02), as the authors' code
    maxouts = [m for m in D.net if isinstance(m, Maxout)]
    assert len(maxouts) == 3 and maxouts[0].linear.in_features == 4 and maxouts[0].linear.out_features == 1000
    assert all((m.linear.bias == 0).all() for m in maxouts)

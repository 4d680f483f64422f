"""The MLP family: the vanilla GAN's generator and discriminator, for images and for 2-D points."""
import pytest
import torch

from ganhelpers.models import get_model
from ganhelpers.models.mlp import MLPDiscriminator, MLPGenerator, build_gan
from ganhelpers.models.steps import bce_steps
from tests.helpers import assert_image_gan_shapes

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 32, 32), (3, 28, 28)]


@pytest.mark.parametrize("img_shape", SHAPES)
@pytest.mark.parametrize("batch", [1, 5])
def test_generator_and_discriminator_shapes(img_shape, batch):
    assert_image_gan_shapes(MLPGenerator(16, img_shape, hidden=(32, 64)), MLPDiscriminator(img_shape, hidden=(32,)),
                            16, img_shape, batch)


def test_mlp_batchnorm_has_default_eps():
    """The `BatchNorm1d(n, 0.8)` copy-paste bug sets eps=0.8; ours must not."""
    G = MLPGenerator(8, (1, 28, 28))
    assert all(m.eps == 1e-5 for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d))


def test_point_mlps_for_2d_mixtures():
    """Notebook 00's nets: no batch norm (a sample must not depend on its batch) and a linear output
    (the ring of modes has radius 2, outside tanh's range); defaults stay as they were."""
    G = MLPGenerator(8, (2,), hidden=(16, 16), batch_norm=False, output="linear")
    D = MLPDiscriminator((2,), hidden=(16, 16))
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules())
    assert not any(isinstance(m, torch.nn.Tanh) for m in G.modules())
    z = torch.randn(5, 8)
    x = G(z)
    assert x.shape == (5, 2) and D(x).shape == (5,)
    assert torch.allclose(G(z[:1]), x[:1], atol=1e-6)  # per-sample: the batch does not matter
    with torch.no_grad():
        G.net[-1].bias.fill_(3.0)
    assert G(z).abs().max() > 1  # not squashed into [-1, 1]
    default = MLPGenerator(8, (2,), hidden=(16,))
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in default.modules())
    assert isinstance(default.net[-1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="output"):
        MLPGenerator(8, (2,), output="sigmoid")


def test_options_after_the_shape_are_keyword_only_and_the_registry_entry():
    with pytest.raises(TypeError):
        MLPGenerator(8, (1, 28, 28), (16,))  # hidden must be named
    with pytest.raises(TypeError):
        MLPDiscriminator((1, 28, 28), (16,))
    spec = get_model("gan")
    assert spec.build is build_gan and spec.steps is bce_steps and not spec.conditional and not spec.critic
    G, D = spec.build((1, 28, 28), 10, 100)
    assert isinstance(G, MLPGenerator) and isinstance(D, MLPDiscriminator) and G.z_dim == 100

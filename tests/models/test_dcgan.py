import pytest
import torch

from ganhelpers import nets

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 32, 32), (3, 28, 28)]


@pytest.mark.parametrize("img_shape", SHAPES)
@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
@pytest.mark.parametrize("batch", [1, 5])
def test_generator_and_discriminator_shapes(kind, img_shape, batch):
    if kind == "mlp":
        G, D = nets.MLPGenerator(16, img_shape, hidden=(32, 64)), nets.MLPDiscriminator(img_shape, hidden=(32,))
    else:
        G, D = nets.DCGANGenerator(16, img_shape, base=8), nets.DCGANDiscriminator(img_shape, base=8)
    G.eval()  # batch-norm with batch 1 needs eval mode
    x = G(torch.randn(batch, 16))
    assert x.shape == (batch, *img_shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert D.eval()(x).shape == (batch,)


def test_dense_dcgan_generator_of_seed_002():
    G = nets.DenseDCGANGenerator(32, (3, 32, 32)).eval()
    assert G(torch.randn(3, 32)).shape == (3, 3, 32, 32)
    assert G.fc[0].out_features == 2048
    convs = [m.out_channels for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert convs == [256, 128, 64, 3]
    assert all(m.kernel_size == (5, 5) for m in G.net if isinstance(m, torch.nn.ConvTranspose2d))
    with pytest.raises(ValueError, match="32"):
        nets.DenseDCGANGenerator(32, (1, 28, 28))


@pytest.mark.parametrize("norm", ["batch", "layer", "instance", "none"])
def test_critic_norms(norm):
    D = nets.DCGANDiscriminator((3, 32, 32), base=8, norm=norm)
    assert D(torch.randn(2, 3, 32, 32)).shape == (2,)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    assert has_bn == (norm == "batch")


def test_dcgan_paper_recipe():
    G = nets.DCGANGenerator(100, (3, 32, 32))
    ups = [m for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.padding) for m in ups[1:]] == [((4, 4), (2, 2), (1, 1))] * 3
    D = nets.DCGANDiscriminator((3, 32, 32))
    assert not isinstance(D.net[1], torch.nn.BatchNorm2d)  # no batch norm on D's first layer


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    G = nets.DCGANGenerator(100, (3, 32, 32))
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = torch.cat([m.weight for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1.0) < 0.01


def test_mlp_batchnorm_has_default_eps():
    """The `BatchNorm1d(n, 0.8)` copy-paste bug sets eps=0.8; ours must not."""
    G = nets.MLPGenerator(8, (1, 28, 28))
    assert all(m.eps == 1e-5 for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d))


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="28 or 32"):
        nets.DCGANGenerator(10, (3, 64, 64))
    with pytest.raises(ValueError, match="unknown norm"):
        nets.DCGANDiscriminator((3, 32, 32), norm="group")


def test_point_mlps_for_2d_mixtures():
    """Notebook 00's nets: no batch norm (a sample must not depend on its batch) and a linear output
    (the ring of modes has radius 2, outside tanh's range); defaults stay as they were."""
    G = nets.MLPGenerator(8, (2,), hidden=(16, 16), batch_norm=False, output="linear")
    D = nets.MLPDiscriminator((2,), hidden=(16, 16))
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules())
    assert not any(isinstance(m, torch.nn.Tanh) for m in G.modules())
    z = torch.randn(5, 8)
    x = G(z)
    assert x.shape == (5, 2) and D(x).shape == (5,)
    assert torch.allclose(G(z[:1]), x[:1], atol=1e-6)  # per-sample: the batch does not matter
    with torch.no_grad():
        G.net[-1].bias.fill_(3.0)
    assert G(z).abs().max() > 1  # not squashed into [-1, 1]
    default = nets.MLPGenerator(8, (2,), hidden=(16,))
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in default.modules())
    assert isinstance(default.net[-1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="output"):
        nets.MLPGenerator(8, (2,), output="sigmoid")

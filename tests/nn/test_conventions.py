"""The network contract and its tools: shape and label checks, generator_info, noise, device_of, eval_mode,
generate, translate and count_params."""
import pytest
import torch
from torch import nn

from ganhelpers.data import to_float
from ganhelpers.models.dcgan import DCGANGenerator
from ganhelpers.models.mlp import MLPGenerator
from ganhelpers.models.pix2pix import UNetGenerator
from ganhelpers.nn.conventions import (check_image_shape, check_labels, count_params, device_of, eval_mode, generate,
                                       generator_info, noise, translate)


class ToyConditional(nn.Module):
    """A conditional G: z plus a per-class offset, then a DCGAN generator."""

    def __init__(self, z_dim=8, n_classes=3):
        super().__init__()
        self.z_dim, self.n_classes, self.img_shape = z_dim, n_classes, (1, 28, 28)
        self.embed = nn.Embedding(n_classes, z_dim)
        self.net = DCGANGenerator(z_dim, (1, 28, 28), base=4)

    def forward(self, z, labels=None):
        if labels is None:
            raise ValueError("labels needed")
        return self.net(z + self.embed(labels))


def test_check_image_shape():
    assert check_image_shape((3, 32, 32)) == (3, 32, 32) and check_image_shape([1, 28, 28]) == (1, 28, 28)
    with pytest.raises(ValueError, match="28 or 32"):
        check_image_shape((3, 64, 64))
    with pytest.raises(ValueError, match="square"):
        check_image_shape((1, 28, 32))
    with pytest.raises(ValueError, match="32-pixel"):
        check_image_shape((1, 28, 28), sizes=(32,))


def test_check_labels_converts_refuses_and_ignores_for_an_unconditional_net():
    labels = check_labels([0, 3, 9], 10, 3)
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 3, 9]
    assert check_labels(torch.tensor([1, 2], dtype=torch.int32), 10, 2).dtype == torch.int64
    assert check_labels(None, 0, 5) is None  # n_classes = 0: unconditional, labels ignored
    assert check_labels(torch.tensor([99, -1]), 0, 2) is None  # whatever they are
    for bad, message in [(None, "needs the class"), (torch.tensor([0.0, 1.0]), "whole numbers"),
                         (torch.tensor([0, 1, 2]), r"shape \(2,\)"), (torch.tensor([0, 10]), r"\[0, 10\)")]:
        with pytest.raises(ValueError, match=message):
            check_labels(bad, 10, 2)


def test_generator_info_noise_and_device_of():
    G = MLPGenerator(5, (1, 28, 28), hidden=(8,))
    assert generator_info(G) == (5, 0) and generator_info(ToyConditional()) == (8, 3)
    assert noise(G, 3, "cpu").shape == (3, 5)  # the documented place the steps draw z from
    assert device_of(G) == torch.device("cpu") and device_of(nn.ReLU()) == torch.device("cpu")
    with pytest.raises(ValueError, match="no z_dim"):
        generator_info(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no latent input.*PairExplorer"):
        generator_info(UNetGenerator(1, (1, 28, 28), base=4))  # image-to-image: z_dim = 0


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_mode_also_when_the_block_raises(training):
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train(training)
    with eval_mode(net) as inside:
        assert inside is net and not net.training and not net[1].training
    assert net.training == training and net[1].training == training
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode(net):
            assert not net.training
            raise RuntimeError("boom")
    assert net.training == training and net[1].training == training  # restored on the way out of the error


def test_generate_runs_in_eval_mode_and_restores_training():
    G = DCGANGenerator(8, (1, 28, 28), base=4).train()
    z = torch.randn(3, 8)
    images = generate(G, z)
    assert images.shape == (3, 1, 28, 28) and images.device.type == "cpu" and G.training
    assert not images.requires_grad
    # eval mode: a sample does not depend on the rest of the batch
    assert torch.allclose(generate(G, z[:1]), images[:1], atol=1e-6)
    C = ToyConditional()
    out = generate(C, torch.randn(2, 8), torch.tensor([0, 2]))
    assert out.shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="conditional"):
        generate(C, torch.randn(2, 8))
    with pytest.raises(ValueError, match="z_dim"):
        generate(nn.Linear(2, 2), torch.randn(2, 2))


def test_translate_takes_uint8_or_float_conditions_in_eval_mode_and_batches():
    torch.manual_seed(0)
    G = UNetGenerator(1, (1, 28, 28), base=4).train()
    conditions = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    out = translate(G, conditions, batch_size=2)  # three chunks: 2, 2, 1
    assert out.shape == (5, 1, 28, 28) and out.device.type == "cpu" and not out.requires_grad and G.training
    with torch.no_grad():
        expected = G.eval()(to_float(conditions))
    assert torch.allclose(out, expected, atol=1e-6)  # eval mode: no dropout, running batch-norm statistics
    assert torch.equal(translate(G, to_float(conditions)), translate(G, conditions))


def test_count_params_counts_trainable_weights_only():
    net = nn.Linear(3, 2)  # 3 * 2 weights + 2 biases
    assert count_params(net) == 8
    net.bias.requires_grad_(False)
    assert count_params(net) == 6

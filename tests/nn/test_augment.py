"""ganhelpers/nn/augment.py: DiffAugment's operations keep shapes, move what they should, draw per sample, stay
differentiable (G is trained through them), and the Augmented wrapper passes labels and attributes through."""
import pytest
import torch

from ganhelpers.models.conditional import ConditionalCritic
from ganhelpers.models.dcgan import DCGANDiscriminator
from ganhelpers.nn.augment import Augmented, cutout, diff_augment, parse_policy, translation


def test_translation_shifts_whole_images_and_fills_with_zero():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) + 1  # every pixel in [1, 2): a moved border shows up as zeros
    y = translation(x)
    assert y.shape == x.shape
    zero_rows = (y == 0).all(dim=3).sum(dim=(1, 2))  # (64,) rows entirely filled per image
    zero_cols = (y == 0).all(dim=2).sum(dim=(1, 2))
    assert zero_rows.max() <= 2 and zero_cols.max() <= 2  # at most 0.125 * 16 = 2 pixels each way
    assert (zero_rows + zero_cols > 0).float().mean() > 0.5  # most images moved, each by its own draw
    kept = y[y != 0]
    assert ((kept >= 1) & (kept < 2)).all()  # pixels are moved, never changed


def test_cutout_zeros_one_square_per_image():
    torch.manual_seed(0)
    y = cutout(torch.ones(256, 1, 16, 16))
    zeros = (y == 0).sum(dim=(1, 2, 3))  # (256,)
    assert zeros.max() == 64 and zeros.min() >= 8  # an 8x8 square, clipped at the border
    assert len(set(zeros.tolist())) > 5  # per-sample positions


def test_every_policy_is_differentiable_and_keeps_the_shape():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_policy_is_refused_with_the_known_ones():
    assert parse_policy(" translation , cutout ") == ("translation", "cutout")
    with pytest.raises(ValueError, match="color, translation, cutout"):
        parse_policy("translation,flip")


def test_augmented_discriminator_passes_labels_and_attributes():
    torch.manual_seed(0)
    D = Augmented(DCGANDiscriminator((1, 28, 28), base=8), "translation,cutout")
    assert D(torch.randn(5, 1, 28, 28)).shape == (5,) and D.img_shape == (1, 28, 28)
    critic = Augmented(ConditionalCritic((1, 28, 28), 10, base=8))
    assert critic(torch.randn(5, 1, 28, 28), torch.arange(5)).shape == (5,) and critic.n_classes == 10
    assert all(k.startswith("inner.") for k in critic.state_dict())

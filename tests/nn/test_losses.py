"""The losses: known answers of BCE, Wasserstein and hinge, one-sided smoothing and the per-sample gradient penalty."""
import math

import pytest
import torch

from ganhelpers.nn import losses as L


def test_bce_known_answers():
    zero = torch.zeros(4)
    # D(x) = 0.5 everywhere: each BCE term is log 2
    assert L.d_loss_bce(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert L.g_loss_nonsaturating(zero).item() == pytest.approx(math.log(2))
    assert L.g_loss_saturating(zero).item() == pytest.approx(-math.log(2))
    logit = torch.full((3,), math.log(9.0))  # sigmoid = 0.9
    very_negative = torch.full((3,), -50.0)   # sigmoid ~ 0: fake term ~ 0
    assert L.d_loss_bce(logit, very_negative).item() == pytest.approx(-math.log(0.9), abs=1e-6)
    smoothed = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    assert L.d_loss_bce(logit, very_negative, smooth=0.1).item() == pytest.approx(smoothed, abs=1e-6)


def test_smoothing_is_one_sided():
    fake = torch.tensor([0.3, -1.0])
    real = torch.tensor([2.0, 1.0])
    plain = L.d_loss_bce(real, fake) - L.d_loss_bce(real, torch.full((2,), -60.0))
    smooth = L.d_loss_bce(real, fake, 0.2) - L.d_loss_bce(real, torch.full((2,), -60.0), 0.2)
    assert plain.item() == pytest.approx(smooth.item())  # the fake term is unchanged by smoothing
    with pytest.raises(ValueError, match="smoothing"):
        L.d_loss_bce(real, fake, smooth=0.7)


def test_saturating_gradient_vanishes_when_d_wins():
    # D confidently rejects the fake (logit -8): the saturating loss gives G almost no gradient
    logits = torch.tensor([-8.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(L.g_loss_saturating(logits), logits)
    (g_ns,) = torch.autograd.grad(L.g_loss_nonsaturating(logits), logits)
    assert abs(g_sat.item()) < 1e-3 < abs(g_ns.item())


def test_wasserstein_and_hinge_known_answers():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert L.d_loss_wasserstein(real, fake).item() == pytest.approx(-1.0 - 1.25)
    assert L.g_loss_wasserstein(fake).item() == pytest.approx(1.0)
    # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25;  relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert L.d_loss_hinge(real, fake).item() == pytest.approx(0.75)


class Linear(torch.nn.Module):
    """f(x) = <w, x>: its input gradient is w for every sample, so the penalty is (|w| - 1)^2."""

    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x, labels=None):
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_known_answer():
    w = torch.zeros(3, 4, 4)
    w[0, 0, 0], w[1, 2, 3] = 2.0, math.sqrt(5.0)  # |w| = 3
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    assert L.gradient_penalty(Linear(w), real, fake).item() == pytest.approx(4.0, rel=1e-5)
    unit = torch.ones(3, 4, 4) / math.sqrt(48)
    assert L.gradient_penalty(Linear(unit), real, fake).item() == pytest.approx(0.0, abs=1e-8)


def test_gradient_penalty_norm_is_per_sample_not_per_row():
    """The classic bug takes the norm over dim=1 only (one value per pixel row or position)."""
    w = torch.full((3, 4, 4), 0.5)  # |w| = sqrt(48)/2 = 3.46
    real, fake = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    right = L.gradient_penalty(Linear(w), real, fake).item()
    buggy = ((w.expand(2, 3, 4, 4).norm(2, dim=1) - 1) ** 2).mean().item()  # per-position norms
    assert right == pytest.approx((math.sqrt(48) / 2 - 1) ** 2, rel=1e-5)
    assert abs(right - buggy) > 1.0


def test_gradient_penalty_is_mean_of_independent_samples():
    """A nonlinear critic: the batch penalty equals the mean of per-sample penalties at the same points."""
    critic = lambda x, labels=None: 0.5 * (x ** 2).flatten(1).sum(1)  # grad = x_hat
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    torch.manual_seed(1)
    got = L.gradient_penalty(critic, real, fake)
    torch.manual_seed(1)
    eps = torch.rand(4, 1, 1, 1)
    x_hat = eps * real + (1 - eps) * fake
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_loss_registry():
    d, g = L.get_loss("hinge")
    assert d is L.d_loss_hinge and g is L.g_loss_wasserstein
    with pytest.raises(ValueError, match="choose one of"):
        L.get_loss("lsgan")

"""ganhelpers/checks.py: every check accepts a right solution and catches the deliberately wrong ones a student
writes (no detach, a wrong sign, a penalty norm over the wrong dimensions, D not frozen, a missing zero_grad)."""
import pytest
import torch
import torch.nn.functional as F

from ganhelpers import checks
from ganhelpers.data import load_dataset
from ganhelpers.data.sampler import BatchSampler
from ganhelpers.core.runtime import seed_everything
from ganhelpers.models import mlp
from ganhelpers.models.steps import bce_steps, wgan_gp_steps
from ganhelpers.nn import losses

SHAPE = (1, 28, 28)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return mlp.MLPGenerator(8, SHAPE, hidden=(16,)), mlp.MLPDiscriminator(SHAPE, hidden=(16,))


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist-5k", n=64)


@pytest.fixture(scope="module")
def real():
    return torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(1)) * 2 - 1  # (16, 1, 28, 28)


# --- d_step and g_step: right ones, then one mistake each ---
def d_step(G, D, real, labels, trainer, detach=True, targets=(1.0, 0.0)):
    z = torch.randn(real.size(0), G.z_dim)
    if detach:
        with torch.no_grad():
            fake = G(z)
    else:
        fake = G(z)  # the mistake: D's loss reaches G
    real_logits, fake_logits = D(real), D(fake)
    loss_D = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, targets[0]))
              + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, targets[1])))
    return {"loss_D": loss_D, "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}


def g_step(G, D, real, labels, trainer, sign=1.0, detach=False):
    fake = G(torch.randn(real.size(0), G.z_dim))
    fake = fake.detach() if detach else fake
    return {"loss_G": sign * losses.g_loss_nonsaturating(D(fake))}


def test_right_steps_pass(nets, real):
    out = checks.check_steps(d_step, g_step, bce_steps(), *nets, real)
    assert set(out) == {"loss_D", "D_real", "D_fake", "loss_G"}


@pytest.mark.parametrize("wrong_d, wrong_g, message", [
    (lambda *a: d_step(*a, detach=False), g_step, "loss_D reached G's weights"),
    (lambda *a: d_step(*a, targets=(0.0, 1.0)), g_step, "loss_D: yours is"),       # targets swapped
    (d_step, lambda *a: g_step(*a, sign=-1.0), "loss_G: yours is"),                 # wrong sign
    (d_step, lambda *a: g_step(*a, detach=True), "loss_G does not reach G's weights"),
    (lambda *a: {k: v for k, v in d_step(*a).items() if k != "D_fake"}, g_step, "return no 'D_fake'"),
])
def test_wrong_steps_are_caught(nets, real, wrong_d, wrong_g, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_steps(wrong_d, wrong_g, bce_steps(), *nets, real, section="3")


def test_smoothed_d_step_alone(nets, real):
    """D's side only (notebook 02's exercise): forgetting the smoothing is caught."""
    smoothed = lambda *a: d_step(*a, targets=(0.9, 0.0))  # noqa: E731
    checks.check_steps(smoothed, None, bce_steps(smooth=0.1), *nets, real)
    with pytest.raises(AssertionError, match="loss_D"):
        checks.check_steps(d_step, None, bce_steps(smooth=0.1), *nets, real)


def test_wgan_steps_with_a_penalty_over_the_wrong_dimensions(nets, real):
    right_d, right_g = wgan_gp_steps(10.0)

    def wrong_gp(critic, real, fake, labels=None):
        eps = torch.rand(real.size(0), 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.norm(2, dim=1) - 1) ** 2).mean()  # the mistake: a norm per pixel, over the channel only

    def wrong_d(G, D, real, labels, trainer):
        with torch.no_grad():
            fake = G(torch.randn(real.size(0), G.z_dim))
        real_s, fake_s = D(real), D(fake)
        gp = wrong_gp(D, real, fake)
        return {"loss_D": fake_s.mean() - real_s.mean() + 10 * gp, "W_estimate": real_s.mean() - fake_s.mean(),
                "gp": gp, "critic_real": real_s.mean(), "critic_fake": fake_s.mean()}

    checks.check_steps(right_d, right_g, (right_d, right_g), *nets, real)
    with pytest.raises(AssertionError, match="(loss_D|gp): yours is"):
        checks.check_steps(wrong_d, right_g, (right_d, right_g), *nets, real)


# --- the hand-written round: d_turn, g_turn and the loop ---
def d_turn(G, D, opt_D, real, labels, zero_grad=True, step=True):
    out = d_step(G, D, real, labels, None)
    if zero_grad:
        opt_D.zero_grad(set_to_none=True)
    out["loss_D"].backward()
    if step:
        opt_D.step()
    return out


def wrong_d_turn_no_detach(G, D, opt_D, real, labels):
    out = d_step(G, D, real, labels, None, detach=False)  # the fakes keep their graph: loss_D reaches G
    opt_D.zero_grad(set_to_none=True)
    out["loss_D"].backward()
    opt_D.step()
    return out


def g_turn(G, D, opt_G, real, labels, freeze=True, unfreeze=True):
    if freeze:
        D.requires_grad_(False)
    out = g_step(G, D, real, labels, None)
    opt_G.zero_grad(set_to_none=True)
    out["loss_G"].backward()
    opt_G.step()
    if unfreeze:
        D.requires_grad_(True)
    return out


def hand_loop(d_turn, g_turn, d_first=True):
    def train_by_hand(G, D, data, steps, batch_size, seed):
        seed_everything(seed)
        sampler = BatchSampler(data, batch_size, seed=seed)
        opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for _ in range(steps):
            real, labels = sampler.next()
            if d_first:
                d_turn(G, D, opt_D, real, labels)
                g_turn(G, D, opt_G, real, labels)
            else:
                g_turn(G, D, opt_G, real, labels)
                d_turn(G, D, opt_D, real, labels)
    return train_by_hand


def test_right_turns_and_loop_pass(nets, real, data):
    checks.check_turns(d_turn, g_turn, *nets, real)
    checks.check_same_weights_as_trainer(hand_loop(d_turn, g_turn), d_step, g_step, *nets, data)


@pytest.mark.parametrize("wrong_d, wrong_g, message", [
    (lambda *a: d_turn(*a, step=False), g_turn, "D's turn left D's weights unchanged"),
    (lambda G, D, opt, r, l: wrong_d_turn_no_detach(G, D, opt, r, l), g_turn, "D's turn reached G"),
    (d_turn, lambda *a: g_turn(*a, freeze=False), "wrote gradients into D's weights"),   # D not frozen
    (d_turn, lambda *a: g_turn(*a, unfreeze=False), "D is still frozen"),
])
def test_wrong_turns_are_caught(nets, real, wrong_d, wrong_g, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_turns(wrong_d, wrong_g, *nets, real)


@pytest.mark.parametrize("loop", [hand_loop(lambda *a: d_turn(*a, zero_grad=False), g_turn),  # gradients pile up
                                  hand_loop(d_turn, g_turn, d_first=False)],                 # G moves first
                         ids=["no zero_grad", "G first"])
def test_wrong_loops_are_caught(nets, data, loop):
    with pytest.raises(AssertionError, match="differs from Trainer's"):
        checks.check_same_weights_as_trainer(loop, d_step, g_step, *nets, data)


# --- the gradient penalty ---
def penalty(critic, real, fake, per_pixel_eps=False, dims="all", create_graph=True):
    shape = real.shape if per_pixel_eps else (real.size(0),) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    norms = grad.flatten(1).norm(2, dim=1) if dims == "all" else grad.norm(2, dim=1)  # (B,) or (B, ...)
    return ((norms - 1) ** 2).mean()


def test_right_penalty_passes():
    checks.check_gradient_penalty(penalty)


@pytest.mark.parametrize("wrong", [lambda *a: penalty(*a, dims="channel"),          # the classic bug
                                   lambda *a: penalty(*a, per_pixel_eps=True),
                                   lambda *a: -penalty(*a),                          # wrong sign
                                   lambda *a: penalty(*a, create_graph=False)],
                         ids=["norm over dim 1", "eps per pixel", "wrong sign", "no create_graph"])
def test_wrong_penalties_are_caught(wrong):
    with pytest.raises(AssertionError):
        checks.check_gradient_penalty(wrong)

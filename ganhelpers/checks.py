"""Self-checks that the notebooks' step sections and exercises call on the student's code.

Each runs the student's functions on copies of the networks (the ones being trained stay untouched) or on
known inputs, and raises AssertionError saying what is wrong and which section explains it; `tests/
test_checks.py` feeds each check deliberately wrong solutions (no detach, a wrong sign, a penalty norm over
the wrong dimensions, D not frozen) that it must catch.

- `check_steps`: d_step/g_step against the package's, and where the gradients go.
- `check_turns` and `check_same_weights_as_trainer`: the optimiser calls of one round, written by hand.
- `check_gradient_penalty`: a WGAN-GP penalty on critics of images and of points.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .core import TrainConfig, Trainer


def _where(section: str) -> str:
    return f" (section {section} explains it)" if section else ""


def _cpu_copies(G: nn.Module, D: nn.Module, eval_mode: bool = False):
    G, D = copy.deepcopy(G).cpu(), copy.deepcopy(D).cpu()
    if eval_mode:  # frozen batch-norm statistics and spectral-norm estimates: two calls see identical networks
        G.eval(), D.eval()
    return G, D


def _cpu(x):
    return x.cpu() if isinstance(x, torch.Tensor) else x


def check_steps(d_step, g_step, reference, G: nn.Module, D: nn.Module, real, labels=None, *, trainer=None,
                keys=None, atol: float = 1e-5, eval_mode: bool = False, section: str = "",
                name: str = "the package's steps") -> dict:
    """Compare a notebook's step functions with the package's, then check where their gradients go.

    d_step, g_step: the student's `f(G, D, real, labels, trainer) -> dict` (g_step may be None: D's side only).
    reference: the package's (d_step, g_step) pair. real: one batch, (B, ...); labels: (B,) or None.
    keys: the outputs to compare (default: every one the reference returns). With the same seed (so the
    same z) both must give the same numbers; then `loss_D` must reach D's weights and none of G's (the
    fakes made under `torch.no_grad()` or detached), and `loss_G` must reach every weight of G (through D).
    Prints the comparison and returns the student's outputs.
    """
    G, D = _cpu_copies(G, D, eval_mode)
    real, labels = _cpu(real), _cpu(labels)
    pairs = [(d_step, reference[0])] + ([(g_step, reference[1])] if g_step is not None else [])

    def run(which):
        torch.manual_seed(0)  # the same z for both versions
        out = {}
        for step in which:
            out.update(step(G, D, real, labels, trainer))
        return out

    ours, theirs = run([p[0] for p in pairs]), run([p[1] for p in pairs])
    for key in keys or list(theirs):
        if key not in ours:
            raise AssertionError(f"your steps return no {key!r}: {name} log it{_where(section)}")
        mine, expected = torch.as_tensor(ours[key]).float(), torch.as_tensor(theirs[key]).float()
        if not torch.allclose(mine, expected, atol=atol):
            raise AssertionError(f"{key}: yours is {mine.item():.5f}, {name} give {expected.item():.5f} on the same "
                                 f"batch and noise{_where(section)}")
        print(f"{key:>12}: yours {mine.item():+.5f}   {name} {expected.item():+.5f}")
    _check_gradient_flow(d_step, g_step, G, D, real, labels, trainer, section)
    print(f"✓ correct: your steps match {name}, and each loss reaches the right network")
    return ours


def _check_gradient_flow(d_step, g_step, G, D, real, labels, trainer, section) -> None:
    G.zero_grad(set_to_none=True), D.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    loss_D = d_step(G, D, real, labels, trainer)["loss_D"]
    if loss_D.grad_fn is not None:  # (pix2pix's L1-only baseline returns a constant leaf: nothing to check)
        loss_D.backward()
        if any(p.grad is not None for p in G.parameters()):
            raise AssertionError("loss_D reached G's weights: in D's step make the fakes under torch.no_grad() "
                                 f"(or detach them), since D's update must not touch G{_where(section)}")
        if all(p.grad is None for p in D.parameters()):
            raise AssertionError(f"loss_D does not reach D's weights: it must be computed from D's outputs{_where(section)}")
    if g_step is None:
        return
    G.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    g_step(G, D, real, labels, trainer)["loss_G"].backward()
    missed = [n for n, p in G.named_parameters() if p.requires_grad and p.grad is None]
    if missed:
        raise AssertionError(f"loss_G does not reach G's weights ({missed[0]}, ...): in G's step make the fakes "
                             f"with gradients (no torch.no_grad(), no detach) and score them with D{_where(section)}")


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(before: list[torch.Tensor], module: nn.Module) -> bool:
    return all(torch.equal(b, p) for b, p in zip(before, module.parameters()))


def check_turns(d_turn, g_turn, G: nn.Module, D: nn.Module, real, labels=None, *,
                section: str = "") -> None:
    """One round of the game written by hand: `d_turn(G, D, opt_D, real, labels)` runs d_step and updates D,
    `g_turn(G, D, opt_G, real, labels)` runs g_step through a frozen D and updates G.

    On copies: D's turn must change D's weights and leave G's weights and gradients untouched; G's turn must
    change G's weights, leave D's weights unchanged, write no gradient into D (D frozen) and unfreeze D after.
    """
    G, D = _cpu_copies(G, D)
    real, labels = _cpu(real), _cpu(labels)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    G.zero_grad(set_to_none=True), D.zero_grad(set_to_none=True)
    G_before, D_before = _weights(G), _weights(D)
    d_turn(G, D, opt_D, real, labels)
    if _same(D_before, D):
        raise AssertionError("D's turn left D's weights unchanged: after loss_D.backward() call opt_D.step()"
                             f"{_where(section)}")
    if not _same(G_before, G) or any(p.grad is not None for p in G.parameters()):
        raise AssertionError("D's turn reached G: G's weights or gradients changed. Only opt_D steps in D's turn, "
                             f"and d_step makes its fakes under torch.no_grad(){_where(section)}")
    D.zero_grad(set_to_none=True)
    G_before, D_before = _weights(G), _weights(D)
    g_turn(G, D, opt_G, real, labels)
    if not all(p.requires_grad for p in D.parameters()):
        raise AssertionError("after G's turn D is still frozen: call D.requires_grad_(True) at its end, or D's "
                             f"next turn learns nothing{_where(section)}")
    if not _same(D_before, D):
        raise AssertionError(f"G's turn changed D's weights: only opt_G may step in G's turn{_where(section)}")
    if any(p.grad is not None for p in D.parameters()):
        raise AssertionError("G's loss wrote gradients into D's weights: freeze D with D.requires_grad_(False) "
                             f"before G's step, and unfreeze it after{_where(section)}")
    if _same(G_before, G):
        raise AssertionError("G's turn left G's weights unchanged: after loss_G.backward() call opt_G.step()"
                             f"{_where(section)}")
    print("✓ D's turn moves D only, G's turn moves G only, and D is frozen while G learns")


def check_same_weights_as_trainer(train_by_hand, d_step, g_step, G: nn.Module, D: nn.Module, data, *,
                                  steps: int = 3, batch_size: int = 16, seed: int = 0, section: str = "") -> None:
    """`train_by_hand(G, D, data, steps, batch_size, seed)` must end with the weights `Trainer` reaches.

    Both start from copies of the same G and D, on the CPU, with Trainer's defaults (Adam, learning rate
    2e-4, betas (0.5, 0.999)), the same seed and so the same batches and noise.
    """
    mine_G, mine_D = _cpu_copies(G, D)
    train_by_hand(mine_G, mine_D, data, steps, batch_size, seed)
    their_G, their_D = _cpu_copies(G, D)
    config = TrainConfig(steps=steps, batch_size=batch_size, seed=seed, device="cpu", progress=False, log_every=1)
    Trainer(their_G, their_D, d_step, g_step, data, config).fit()
    for who, mine, theirs in (("G", mine_G, their_G), ("D", mine_D, their_D)):
        for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
            if not torch.allclose(p, q, atol=1e-6):
                raise AssertionError(f"after {steps} steps {who}.{name} differs from Trainer's (largest difference "
                                     f"{(p - q).abs().max().item():.2e}): check the order of the calls and that each "
                                     f"turn starts with zero_grad{_where(section)}")
    print(f"✓ after {steps} steps your loop and Trainer hold the same weights, in G and in D")



def check_gradient_penalty(penalty, *, section: str = "") -> None:
    """`penalty(critic, real, fake)` must equal `ganhelpers.nn.losses.gradient_penalty` on a critic of images
    (B, 1, 28, 28) and one of points (B, 2) with the same random interpolation, vanish for a critic whose
    gradient has norm 1 at every sample, and reach the critic's weights (create_graph=True)."""
    from .models.dcgan import DCGANDiscriminator
    from .nn.losses import gradient_penalty

    gen = torch.Generator().manual_seed(0)
    image_critic = DCGANDiscriminator((1, 28, 28), base=8, norm="layer")
    point_critic = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1), nn.Flatten(0))
    cases = {"critic of images": (image_critic, torch.rand(8, 1, 28, 28, generator=gen) * 2 - 1,
                                  torch.randn(8, 1, 28, 28, generator=gen)),
             "critic of points": (point_critic, torch.randn(64, 2, generator=gen), torch.randn(64, 2, generator=gen))}
    for what, (critic, real, fake) in cases.items():
        torch.manual_seed(3)
        yours = penalty(critic, real, fake)
        torch.manual_seed(3)  # the same interpolation weights eps
        expected = gradient_penalty(critic, real, fake)
        yours = torch.as_tensor(yours).detach().float()
        if not torch.allclose(yours, expected.detach(), atol=1e-6):
            raise AssertionError(f"{what}: your penalty is {float(yours):.6f}, the package's {expected.item():.6f}: "
                                 "one eps per sample, x_hat between real and fake, one gradient norm per sample "
                                 f"over all its pixels{_where(section)}")
        print(f"{what:>17}: penalty {float(yours):.5f}")
    unit = torch.randn(1, 28, 28, generator=gen)
    unit /= unit.norm()  # f(x) = <u, x> with ||u|| = 1: its gradient has norm exactly 1 everywhere

    def linear_critic(x):
        return (x * unit).flatten(1).sum(1)  # (B,)

    free = penalty(linear_critic, torch.randn(4, 1, 28, 28, generator=gen), torch.randn(4, 1, 28, 28, generator=gen))
    if float(free) > 1e-8:
        raise AssertionError(f"a critic whose gradient has norm 1 everywhere pays {float(free):.4f}, not 0: take one "
                             f"norm per sample, over all of its pixels and channels (flatten(1)){_where(section)}")
    image_critic.zero_grad(set_to_none=True)
    real, fake = cases["critic of images"][1:]
    trained = penalty(image_critic, real, fake)
    if not (isinstance(trained, torch.Tensor) and trained.requires_grad):
        raise AssertionError("the penalty carries no gradient: return a tensor built from autograd.grad(..., "
                             f"create_graph=True), not a float or a detached value{_where(section)}")
    trained.backward()
    if not any(p.grad is not None and p.grad.abs().sum() > 0 for p in image_critic.parameters()):
        raise AssertionError("the penalty does not reach the critic's weights: autograd.grad(..., create_graph=True) "
                             f"keeps the gradient differentiable{_where(section)}")
    print("✓ correct: the penalty matches the package's, is 0 for a 1-Lipschitz critic and trains the critic")

"""The ready-made steps: options of bce_steps (label smoothing, annealed instance noise, reused fakes), WGAN-GP,
and what their logged keys say (probabilities or critic scores)."""
import pytest
import torch

from ganhelpers.core import TrainConfig, Trainer
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhelpers.models.sagan import sagan_steps
from ganhelpers.models.steps import add_instance_noise, bce_steps, instance_noise_std, wgan_gp_steps
from ganhelpers.nn.losses import d_loss_bce
from ganhelpers.viz.plot import CRITIC_KEYS, D_KEYS, is_critic
from tests.helpers import Crash, CrashAt, tiny_data, tiny_nets


class FakeTrainer:
    """Just what a step reads: the step counter, the progress fraction and the config."""

    def __init__(self, step=0, steps=100, n_critic=1):
        self.step, self.config = step, TrainConfig(steps=steps, n_critic=n_critic, device="cpu")
        self.progress = min(1.0, step / steps)  # Trainer.progress of a run bounded by steps
        self.scaler = None


def test_instance_noise_anneals_linearly_to_zero():
    assert instance_noise_std(FakeTrainer(0, 100), 0.2) == pytest.approx(0.2)
    assert instance_noise_std(FakeTrainer(50, 100), 0.2) == pytest.approx(0.1)
    assert instance_noise_std(FakeTrainer(100, 100), 0.2) == 0.0  # gone by the end of training
    assert instance_noise_std(FakeTrainer(150, 100), 0.2) == 0.0  # never negative (runs extended later)
    assert instance_noise_std(FakeTrainer(37, 100), 0.0) == 0.0


def test_add_instance_noise_has_the_asked_std_and_zero_is_a_no_op():
    x = torch.zeros(200, 3, 32, 32)
    state = torch.get_rng_state()
    assert add_instance_noise(x, 0.0) is x
    assert torch.equal(torch.get_rng_state(), state)  # no noise, no random numbers drawn
    assert add_instance_noise(x, 0.1).std().item() == pytest.approx(0.1, rel=0.02)


def test_noise_std_is_logged_falls_each_step_and_is_zero_after_training():
    G, D = tiny_nets()
    config = TrainConfig(steps=10, batch_size=8, log_every=1, progress=False, device="cpu")
    trainer = Trainer(G, D, *bce_steps(instance_noise=0.5), tiny_data(64), config)
    history = trainer.fit()
    assert history["noise_std"][0] == pytest.approx(0.5)
    assert history["noise_std"][-1] == pytest.approx(0.05)  # step 9 of 10: the last step, 1/10 left
    assert instance_noise_std(trainer, 0.5) == 0.0  # after training: nothing left
    assert all(a > b for a, b in zip(history["noise_std"], history["noise_std"][1:]))


def test_defaults_are_the_plain_gan():
    """bce_steps() and bce_steps(smooth=0, instance_noise=0) give the same losses and draw the same
    random numbers as the original step: options off means the original behaviour."""
    G, D = tiny_nets()
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    results = []
    for d_step, g_step in (bce_steps(), bce_steps(smooth=0.0, instance_noise=0.0)):
        torch.manual_seed(3)
        out = {**d_step(G, D, real, None, FakeTrainer()), **g_step(G, D, real, None, FakeTrainer())}
        results.append(out)
    assert "noise_std" not in results[0]
    for key in ("loss_D", "loss_G", "D_real", "D_fake"):
        assert torch.equal(results[0][key], results[1][key])


def test_smoothing_passes_through_to_the_loss():
    def D(x, labels=None):  # a stub with confident logits, where smoothing changes the loss a lot
        return 4 * x.flatten(1).mean(1)  # (B,)

    G = DCGANGenerator(8, (1, 28, 28), base=4)
    real = torch.full((8, 1, 28, 28), 0.75)  # real logits 3
    torch.manual_seed(1)
    out = bce_steps(smooth=0.2)[0](G, D, real, None, FakeTrainer())
    torch.manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(8, G.z_dim))
    assert out["loss_D"].item() == pytest.approx(d_loss_bce(D(real), D(fake), smooth=0.2).item(), rel=1e-5)
    assert out["loss_D"].item() > d_loss_bce(D(real), D(fake)).item() + 0.3  # it did smooth


@pytest.mark.parametrize("reuse_fake", [True, False])
def test_instance_noise_reaches_both_inputs_of_D_and_G_step_sees_the_same_std(reuse_fake):
    """D's step feeds D real + noise and fake + noise, G's step fake + noise, all with the current std.
    With one D step per G step (n_critic = 1) G's step reuses D's fakes (kept in the steps' closure), else
    it draws its own z."""
    seen = []

    def D(x, labels=None):  # records what D is shown
        seen.append(x.detach().clone())
        return x.flatten(1).mean(1)

    G = DCGANGenerator(8, (1, 28, 28), base=4)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    at = FakeTrainer(step=25, steps=100)  # std 0.4 * (1 - 25/100) = 0.3
    d_step, g_step = bce_steps(instance_noise=0.4, reuse_fake=reuse_fake)
    torch.manual_seed(5)
    d_step(G, D, real, None, at)
    torch.manual_seed(6)
    g_step(G, D, real, None, at)

    # replay the random draws in the order the steps make them: z, then the noise of each input of D
    with torch.no_grad():
        torch.manual_seed(5)
        fake = G(torch.randn(16, 8))
        real_noise, fake_noise = torch.randn_like(real), torch.randn_like(fake)
        torch.manual_seed(6)
        fake_for_g = fake if reuse_fake else G(torch.randn(16, 8))  # reused: no second z is drawn
        g_noise = torch.randn_like(fake_for_g)
    real_in_d, fake_in_d, fake_in_g = seen
    assert torch.allclose(real_in_d, real + 0.3 * real_noise, atol=1e-6)
    assert torch.allclose(fake_in_d, fake + 0.3 * fake_noise, atol=1e-6)
    assert torch.allclose(fake_in_g, fake_for_g + 0.3 * g_noise, atol=1e-6)


def test_reused_fakes_carry_G_s_graph_and_are_used_once():
    """The kept fakes reach G's step with their graph (G learns through them) and are popped: a G step
    without a D step before it draws its own, with n_critic > 1 nothing is kept, and a G step on another
    batch than D's draws its own."""
    G = DCGANGenerator(8, (1, 28, 28), base=4)
    calls = []
    G.register_forward_hook(lambda *a: calls.append(1))
    D = lambda x, labels=None: x.flatten(1).mean(1)  # noqa: E731
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    d_step, g_step = bce_steps()
    d_step(G, D, real, None, FakeTrainer())
    out = g_step(G, D, real, None, FakeTrainer())
    assert len(calls) == 1  # one G forward for both steps
    out["loss_G"].backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    g_step(G, D, real, None, FakeTrainer())
    assert len(calls) == 2  # nothing kept any more: G ran again
    d_step(G, D, real, None, FakeTrainer(n_critic=2))
    g_step(G, D, real, None, FakeTrainer(n_critic=2))
    assert len(calls) == 4  # several D steps per G step: D's fakes are not G's
    d_step(G, D, real, None, FakeTrainer())
    g_step(G, D, real.clone(), None, FakeTrainer())  # G's step on another batch: D's fakes are not for it
    assert len(calls) == 6
    g_step(G, D, real, None, FakeTrainer())  # and they were dropped, not kept for a later call
    assert len(calls) == 7


def test_bad_options_fail_loudly():
    with pytest.raises(ValueError, match="smooth"):
        bce_steps(smooth=0.7)
    with pytest.raises(ValueError, match="instance_noise"):
        bce_steps(instance_noise=-0.1)


def test_resume_repeats_a_noisy_run_exactly(tmp_path):
    """Instance noise and dropout draw from torch's global RNG, which the trainer checkpoints, and the
    noise schedule depends on the step count only: a killed and resumed run ends bit-identical."""
    def run(out, callbacks=(), resume=False):
        G, D = tiny_nets(d_dropout=0.2)
        config = TrainConfig(steps=8, batch_size=8, log_every=2, ckpt_every=4, progress=False, device="cpu",
                             out_dir=str(out), resume=resume)
        return Trainer(G, D, *bce_steps(smooth=0.1, instance_noise=0.3), tiny_data(64), config,
                       callbacks=callbacks)

    straight = run(tmp_path / "a")
    straight.fit()
    with pytest.raises(Crash):
        run(tmp_path / "b", callbacks=[CrashAt(6)]).fit()  # dies after the checkpoint at step 4
    torch.manual_seed(999)  # a new process starts with other RNG state
    resumed = run(tmp_path / "b", resume=True)
    assert resumed.step == 4
    resumed.fit()
    for a, b in zip(straight.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    assert straight.history["noise_std"] == resumed.history["noise_std"]


def test_wgan_gp_steps_report_critic_scores():
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4, norm="layer")
    out = wgan_gp_steps()[0](G, D, torch.rand(4, 1, 28, 28) * 2 - 1, None, FakeTrainer())
    assert {"loss_D", "W_estimate", "gp", "critic_real", "critic_fake"} <= set(out)
    assert not {"D_real", "D_fake"} & set(out)  # raw scores are not probabilities
    assert torch.allclose(out["W_estimate"], out["critic_real"] - out["critic_fake"])


@pytest.mark.parametrize("make_steps, n_critic, logged, absent", [
    (wgan_gp_steps, 2, (*CRITIC_KEYS, "W_estimate", "gp"), D_KEYS), (sagan_steps, 1, CRITIC_KEYS, D_KEYS),
    (bce_steps, 1, D_KEYS, CRITIC_KEYS),
], ids=["wgan_gp_steps", "sagan_steps", "bce_steps"])
def test_steps_say_what_their_scores_are_by_their_keys_and_set_nothing_on_the_trainer(
        make_steps, n_critic, logged, absent):
    """What D's numbers mean travels in the step's return value ("critic_*" or "D_*"), which the plots read:
    no step sets an attribute on the trainer (there is no trainer.D_probabilities and no trainer.stash)."""
    G, D = tiny_nets(norm="layer")
    d_step, g_step = make_steps()

    def watched(step):
        def run(G, D, real, labels, trainer):
            before = dict(vars(trainer))
            out = step(G, D, real, labels, trainer)
            after = vars(trainer)
            assert after.keys() == before.keys() and all(after[k] is before[k] for k in before), \
                f"{step.__qualname__} changed the trainer: {sorted(k for k in after if after[k] is not before.get(k))}"
            return out
        return run
    config = TrainConfig(steps=2, batch_size=8, n_critic=n_critic, log_every=1, progress=False, device="cpu")
    trainer = Trainer(G, D, watched(d_step), watched(g_step), tiny_data(64), config)
    history = trainer.fit()
    assert set(logged) <= set(history) and not set(absent) & set(history)
    assert all(len(history[k]) == 2 for k in logged)
    critic = set(CRITIC_KEYS) <= set(logged)
    assert is_critic(history) == critic  # what the plots and the dashboard decide by
    assert not hasattr(trainer, "D_probabilities") and not hasattr(trainer, "stash")
    if not critic:
        assert all(0 <= p <= 1 for k in logged for p in history[k])  # probabilities

"""The ready-made steps: options of bce_steps (label smoothing, annealed instance noise) and WGAN-GP."""
import pytest
import torch

from ganhelpers import nets, steps
from ganhelpers.data import ImageSet
from ganhelpers.losses import d_loss_bce
from ganhelpers.steps import add_instance_noise, bce_steps, instance_noise_std, wgan_gp_steps
from ganhelpers.train import TrainConfig, Trainer
from ganhelpers.utils import seed_everything
from test_train import Crash, CrashAt  # the simulated crash of the resume tests


class FakeTrainer:
    """Just what a step reads: the step counter, the progress fraction and the config."""

    def __init__(self, step=0, steps=100):
        self.step, self.config = step, TrainConfig(steps=steps, device="cpu")
        self.progress = min(1.0, step / steps)  # Trainer.progress of a run bounded by steps
        self.D_probabilities, self.scaler = True, None


def tiny_data(n=64, shape=(1, 28, 28)):
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g),
                    torch.arange(n) % 10, [str(k) for k in range(10)], "tiny")


def tiny_nets(shape=(1, 28, 28), d_dropout=0.0):
    seed_everything(0)
    return nets.DCGANGenerator(8, shape, base=4), nets.DCGANDiscriminator(shape, base=4, dropout=d_dropout)


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
    trainer = Trainer(G, D, *bce_steps(instance_noise=0.5), tiny_data(), config)
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

    G = nets.DCGANGenerator(8, (1, 28, 28), base=4)
    real = torch.full((8, 1, 28, 28), 0.75)  # real logits 3
    torch.manual_seed(1)
    out = bce_steps(smooth=0.2)[0](G, D, real, None, FakeTrainer())
    torch.manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(8, G.z_dim))
    assert out["loss_D"].item() == pytest.approx(d_loss_bce(D(real), D(fake), smooth=0.2).item(), rel=1e-5)
    assert out["loss_D"].item() > d_loss_bce(D(real), D(fake)).item() + 0.3  # it did smooth


def test_instance_noise_reaches_both_inputs_of_D_and_G_step_sees_the_same_std():
    """D's step feeds D real + noise and fake + noise, G's step fake + noise, all with the current std."""
    seen = []

    def D(x, labels=None):  # records what D is shown
        seen.append(x.detach().clone())
        return x.flatten(1).mean(1)

    G = nets.DCGANGenerator(8, (1, 28, 28), base=4)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    at = FakeTrainer(step=25, steps=100)  # std 0.4 * (1 - 25/100) = 0.3
    d_step, g_step = bce_steps(instance_noise=0.4)
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
        fake_for_g = G(torch.randn(16, 8))
        g_noise = torch.randn_like(fake_for_g)
    real_in_d, fake_in_d, fake_in_g = seen
    assert torch.allclose(real_in_d, real + 0.3 * real_noise, atol=1e-6)
    assert torch.allclose(fake_in_d, fake + 0.3 * fake_noise, atol=1e-6)
    assert torch.allclose(fake_in_g, fake_for_g + 0.3 * g_noise, atol=1e-6)


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
        return Trainer(G, D, *bce_steps(smooth=0.1, instance_noise=0.3), tiny_data(), config,
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
    G, D = nets.DCGANGenerator(8, (1, 28, 28), base=4), nets.DCGANDiscriminator((1, 28, 28), base=4, norm="layer")
    trainer = FakeTrainer()
    out = wgan_gp_steps()[0](G, D, torch.rand(4, 1, 28, 28) * 2 - 1, None, trainer)
    assert trainer.D_probabilities is False
    assert {"loss_D", "W_estimate", "gp", "D_real", "D_fake"} <= set(out)


def test_noise_draws_from_the_documented_place():
    assert steps.noise(nets.MLPGenerator(5, (1, 28, 28), hidden=(8,)), 3, "cpu").shape == (3, 5)

"""The training loop: bit-exact resume, run folder outputs, n_critic, NaN and time-budget stops, the AMP paths
(on the CPU), what a step may log, and the checks on a ready-made sampler."""
import csv
import json

import pytest
import torch

from ganhelpers.core import Callback, NonFiniteLoss, TrainConfig, Trainer, seed_everything
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.core.config import UNLIMITED
from ganhelpers.core.trainer import _log_values
from ganhelpers.data import BatchSampler, PairSampler, make_pairs
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhelpers.models.mlp import MLPDiscriminator, MLPGenerator
from ganhelpers.models.pix2pix import PatchDiscriminator, UNetGenerator, pix2pix_steps
from ganhelpers.models.steps import bce_steps, wgan_gp_steps
from ganhelpers.viz.savers import SampleSaver
from tests.helpers import Crash, CrashAt, make_trainer, tiny_data, weights


def test_killed_and_resumed_run_is_bit_identical(tmp_path):
    straight = make_trainer(tmp_path / "a", ckpt_every=6)
    straight.fit()
    crashed = make_trainer(tmp_path / "b", callbacks=[CrashAt(8)], ckpt_every=6)
    with pytest.raises(Crash):
        crashed.fit()
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 6
    torch.manual_seed(1234)  # a new process would start with other RNG state: resume must restore it
    resumed = make_trainer(tmp_path / "b", ckpt_every=6, resume=True)
    assert resumed.step == 6
    resumed.fit()
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = straight.opt_G.state_dict()["state"], resumed.opt_G.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    assert straight.history == resumed.history


def test_training_seconds_add_up_over_fits_and_a_resume(tmp_path, monkeypatch):
    """`trainer.seconds` counts every fit() of a run, and the checkpoint carries it into a resumed run."""
    clock = iter(range(0, 10**6, 5))  # each reading of the monotonic clock is 5 s after the last
    monkeypatch.setattr("ganhelpers.core.trainer.time.monotonic", lambda: float(next(clock)))
    trainer = make_trainer(tmp_path, steps=3)
    assert trainer.seconds == 0.0
    trainer.fit()
    first = trainer.seconds
    assert first > 0 and load_checkpoint(tmp_path / "checkpoint.pt")["seconds"] <= first
    assert trainer.seconds == first  # not counting any more between fits
    resumed = make_trainer(tmp_path, steps=6, resume=True)
    assert resumed.seconds == load_checkpoint(tmp_path / "checkpoint.pt")["seconds"]
    before = resumed.seconds
    resumed.fit()
    assert resumed.seconds > before
    assert load_checkpoint(tmp_path / "checkpoint.pt")["seconds"] > before


def test_run_folder_outputs(tmp_path):
    trainer = make_trainer(tmp_path, callbacks=[SampleSaver(tmp_path, every=6)], steps=6)
    trainer.meta = {"model": "test"}
    trainer.fit()
    assert (tmp_path / "checkpoint.pt").is_file()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == "test" and config["train"]["steps"] == 6
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [int(r["step"]) for r in rows] == [3, 6]
    assert {"loss_D", "loss_G", "D_real", "D_fake"} <= set(rows[0])
    assert (tmp_path / "samples" / "step_000006.png").is_file()


def test_history_and_n_critic():
    calls = {"d": 0, "g": 0}
    d_step, g_step = bce_steps()

    def counting_d(*a):
        calls["d"] += 1
        return d_step(*a)

    def counting_g(*a):
        calls["g"] += 1
        return g_step(*a)

    seed_everything(0)
    G, D = MLPGenerator(8, (1, 28, 28), hidden=(16,)), MLPDiscriminator((1, 28, 28), hidden=(16,))
    trainer = Trainer(G, D, counting_d, counting_g, tiny_data(),
                      TrainConfig(steps=7, batch_size=8, n_critic=3, log_every=3, progress=False, device="cpu"))
    history = trainer.fit()
    assert calls == {"d": 21, "g": 7}
    assert history["step"] == [3, 6, 7]
    assert all(0.0 <= p <= 1.0 for p in history["D_real"] + history["D_fake"])


def test_nan_loss_stops_with_step_and_last_checkpoint(tmp_path):
    d_step, g_step = bce_steps()

    def exploding_d(G, D, real, labels, trainer):
        out = d_step(G, D, real, labels, trainer)
        if trainer.step == 7:  # the 8th step (trainer.step counts completed steps)
            out["loss_D"] = out["loss_D"] * float("nan")
        return out

    seed_everything(0)
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    trainer = Trainer(G, D, exploding_d, g_step, tiny_data(),
                      TrainConfig(steps=20, batch_size=8, log_every=5, ckpt_every=5, progress=False,
                                  device="cpu", out_dir=str(tmp_path)))
    with pytest.raises(NonFiniteLoss, match=r"loss_D(, loss_G)? became NaN/inf at step 8.*checkpoint\.pt \(step 5\)"):
        trainer.fit()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 5  # nothing after the NaN was saved
    assert all(torch.isfinite(v).all() for v in ckpt["D"].values() if v.is_floating_point())


def test_time_budget_and_stop_request():
    trainer = make_trainer(steps=10_000, minutes=0.002)
    trainer.fit()
    assert trainer.stopped_reason.startswith("time budget") and 0 < trainer.step < 10_000

    class StopAt3(Callback):
        def on_step_end(self, trainer):
            if trainer.step == 3:
                trainer.stop("stopped by the user")

    trainer = make_trainer(callbacks=[StopAt3()])
    trainer.fit()
    assert trainer.step == 3 and trainer.stopped_reason == "stopped by the user"
    assert trainer.history["step"][-1] == 3  # the partial window was logged
    trainer.fit()  # a stop ends the fit it was asked in: the next fit goes on to the end (the search's rungs)
    straight = make_trainer()
    straight.fit()
    assert trainer.step == 12 and trainer.stopped_reason == "finished"
    assert all(torch.equal(v, weights(straight)[k]) for k, v in weights(trainer).items())  # as one straight run


def test_sample_fixed_is_repeatable_and_leaves_training_rng_alone():
    trainer = make_trainer()
    state = torch.get_rng_state()
    a, b = trainer.sample_fixed(), trainer.sample_fixed()
    assert torch.equal(a, b) and a.shape == (64, 1, 28, 28)
    assert torch.equal(state, torch.get_rng_state())
    assert trainer.G.training  # eval mode was only for sampling


def test_resume_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make_trainer(tmp_path, resume=True)
    make_trainer(tmp_path, steps=3).fit()
    seed_everything(0)
    with pytest.raises(ValueError, match="batch_size=8"):
        Trainer(DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4),
                *bce_steps(), tiny_data(), TrainConfig(batch_size=16, out_dir=str(tmp_path), resume=True,
                                                       progress=False, device="cpu"))


def test_step_must_return_its_loss():
    d_step, _ = bce_steps()
    trainer = make_trainer()
    trainer.g_step = lambda *a: {"loss": torch.tensor(1.0)}
    with pytest.raises(KeyError, match="loss_G"):
        trainer.fit()


def test_progress_follows_steps_or_the_time_budget_whichever_is_further():
    seen = []

    class Record(Callback):
        def on_step_end(self, trainer):
            seen.append(trainer.progress)

    trainer = make_trainer(steps=8, callbacks=[Record()])
    assert trainer.progress == 0.0
    trainer.fit()
    assert seen == [pytest.approx(k / 8) for k in range(1, 9)]  # bounded by steps: step / steps
    seen.clear()
    trainer = make_trainer(steps=UNLIMITED, minutes=0.005, callbacks=[Record()])  # a 0.3 s budget
    trainer.fit()
    assert trainer.stopped_reason.startswith("time budget")
    assert 0 < seen[0] < 0.5 and seen[-1] == 1.0 and seen == sorted(seen)  # the budget's share, capped at 1


# ----------------------------------------------------------------------------- the GPU path, shown on a CPU
# Each of these failed before its fix. CUDA cannot run here, so the same code paths run through CPU autocast
# with a real (CPU) GradScaler (the autocast dtype chosen per GPU is tested in test_config.py).

@pytest.fixture
def cpu_fp16(monkeypatch):
    """Make the Trainer run fp16 autocast with an enabled GradScaler on the CPU, as it does on a T4."""
    monkeypatch.setattr("ganhelpers.core.trainer.amp_dtype", lambda amp, device: torch.float16)


def test_fp16_wgan_gp_survives_the_first_scaled_step(cpu_fp16):
    # the scaler's first scale (65536) times the penalty's gradient of a summed fp16 critic output was inf:
    # the loop then stopped with NonFiniteLoss at step 1 (the penalty now runs in fp32)
    seed_everything(0)
    G = DCGANGenerator(8, (1, 28, 28), base=4)
    D = DCGANDiscriminator((1, 28, 28), base=4, norm="layer")
    config = TrainConfig(steps=4, batch_size=8, n_critic=2, log_every=1, progress=False, device="cpu", amp="fp16")
    trainer = Trainer(G, D, *wgan_gp_steps(), tiny_data(), config)
    assert trainer.scaler_D.is_enabled() and trainer.scaler_D.get_scale() == 2.0**16
    D_before = [p.detach().clone() for p in D.parameters()]
    history = trainer.fit()
    assert history["step"] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(history[k])).all() for k in ("loss_D", "gp", "loss_G"))
    # (the scaler may still skip an update whose fp16 gradients overflow and halve its scale: that is its job)
    assert any(not torch.equal(a, b) for a, b in zip(D_before, D.parameters()))  # and the critic did learn


def test_fp16_l1_only_pix2pix_does_not_step_an_optimizer_without_gradients(cpu_fp16):
    # pix2pix-l1's D loss is a constant: GradScaler.step raised "No inf checks were recorded for this optimizer"
    seed_everything(0)
    pairs = make_pairs(tiny_data(32), "edges")
    G, D = UNetGenerator(1, (1, 28, 28), base=4), PatchDiscriminator(1, (1, 28, 28), base=4)
    D_before = [p.detach().clone() for p in D.parameters()]
    config = TrainConfig(steps=2, batch_size=8, log_every=1, progress=False, device="cpu", amp="fp16")
    history = Trainer(G, D, *pix2pix_steps(adversarial=False), PairSampler(pairs, 8), config).fit()
    assert history["step"] == [1, 2] and all(torch.isfinite(torch.tensor(history["loss_G"])))
    assert all(torch.equal(a, b) for a, b in zip(D_before, D.parameters()))


def test_logged_values_live_on_the_trainers_device():
    # a Python number logged by a step became a CPU tensor, which torch.stack refused beside CUDA losses at the
    # first history row (notebook 03, dcgan-improved). "meta" stands in for a device that is not the CPU.
    meta = torch.device("meta")
    logs = _log_values({"loss_D": torch.ones((), device=meta), "noise_std": 0.1, "count": 3,
                        "on_cpu": torch.tensor([0.5])}, meta)
    assert {v.device for v in logs.values()} == {meta}
    assert all(v.shape == () and v.dtype == torch.float32 for v in logs.values())
    assert torch.stack(list(logs.values())).shape == (4,)  # what the flush does: no device mix-up
    with pytest.raises(ValueError, match="log scalars only"):
        _log_values({"per_sample": torch.ones(4)}, meta)


def test_python_numbers_and_occasional_keys_are_logged(tmp_path):
    def d_step(G, D, real, labels, trainer):
        out = bce_steps()[0](G, D, real, labels, trainer)
        out["noise_std"] = 0.25  # a Python float, as instance noise logs it
        if trainer.step % 2 == 0:
            out["sometimes"] = torch.tensor(1.0)  # a key not every step logs
        return out
    seed_everything(0)
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    config = TrainConfig(steps=4, batch_size=8, log_every=4, progress=False, device="cpu")
    history = Trainer(G, D, d_step, bce_steps(reuse_fake=False)[1], tiny_data(), config).fit()
    assert history["noise_std"] == [0.25] and history["sometimes"] == [1.0]


def test_every_critic_update_is_checked_for_nan():
    # only the last of the n_critic D updates used to be logged: a NaN in an earlier one went unseen
    calls = []

    def d_step(G, D, real, labels, trainer):
        calls.append(1)
        loss = D(real, labels).mean()
        return {"loss_D": loss, "probe": torch.tensor(float("nan")) if len(calls) == 1 else loss.detach()}
    seed_everything(0)
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    config = TrainConfig(steps=2, batch_size=8, n_critic=3, log_every=1, progress=False, device="cpu")
    trainer = Trainer(G, D, d_step, bce_steps(reuse_fake=False)[1], tiny_data(), config)
    with pytest.raises(NonFiniteLoss, match="probe became NaN/inf at step 1"):
        trainer.fit()


def test_d_and_g_may_not_log_the_same_key():
    def g_step(G, D, real, labels, trainer):
        return {**bce_steps(reuse_fake=False)[1](G, D, real, labels, trainer), "D_real": torch.tensor(0.0)}
    trainer = make_trainer(steps=1)
    trainer.g_step = g_step
    with pytest.raises(KeyError, match="both log \\['D_real'\\]"):
        trainer.fit()


def test_non_finite_weights_are_never_saved(tmp_path):
    trainer = make_trainer(tmp_path, steps=3)
    trainer.fit()
    good = load_checkpoint(tmp_path / "checkpoint.pt")
    with torch.no_grad():
        next(trainer.G.parameters())[0] = float("nan")  # an update that broke the weights, its loss still finite
    with pytest.raises(NonFiniteLoss, match="refusing to save"):
        trainer.save()
    kept = load_checkpoint(tmp_path / "checkpoint.pt")
    assert all(torch.equal(good["G"][k], kept["G"][k]) for k in good["G"])


def test_D_is_unfrozen_even_when_g_step_raises():
    def g_step(G, D, real, labels, trainer):
        raise RuntimeError("a typo in the notebook's g_step")
    trainer = make_trainer(steps=1)
    trainer.g_step = g_step
    with pytest.raises(RuntimeError, match="typo"):
        trainer.fit()
    assert all(p.requires_grad for p in trainer.D.parameters())


def test_a_ready_sampler_must_match_the_device_and_batch_size():
    seed_everything(0)
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    config = TrainConfig(steps=1, batch_size=8, progress=False, device="cpu")
    with pytest.raises(ValueError, match="batches of 16 but TrainConfig.batch_size is 8"):
        Trainer(G, D, *bce_steps(), BatchSampler(tiny_data(), 16), config)
    with pytest.raises(ValueError, match="holds its data on meta but training runs on cpu"):
        Trainer(G, D, *bce_steps(), BatchSampler(tiny_data(), 8, device="meta"), config)

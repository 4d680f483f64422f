"""Callbacks: EMA's average (and its place in the checkpoint), FixedInputs, and a killed and resumed run with
EMA and a metric callback attached that ends bit-identical to an uninterrupted one."""
import pytest
import torch

from ganhelpers.core import EMA, Callback, FixedInputs, TrainConfig, Trainer, seed_everything
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import PairSampler, make_pairs, to_float
from ganhelpers.eval.metrics import MetricCallback
from ganhelpers.models.conditional import ConditionalGenerator
from ganhelpers.models.dcgan import DCGANDiscriminator
from ganhelpers.models.pix2pix import PatchDiscriminator, UNetGenerator, pix2pix_steps
from ganhelpers.models.sagan import build_sagan, sagan_steps
from ganhelpers.models.steps import wgan_gp_steps
from ganhelpers.nn.conventions import translate
from tests.helpers import Crash, CrashAt, make_trainer, tiny_data, weights


def test_ema_callback(tmp_path):
    torch.manual_seed(0)
    G, D = build_sagan((1, 28, 28), 10, 16, base=8)
    config = TrainConfig(steps=3, batch_size=4, lr_G=1e-2, lr_D=4e-4, betas=(0.0, 0.9), log_every=1,
                         progress=False, device="cpu", out_dir=str(tmp_path))
    start = {k: v.clone() for k, v in G.state_dict().items()}
    ema = EMA(decay=0.5)
    trainer = Trainer(G, D, *sagan_steps(), tiny_data(16), config, callbacks=[ema])
    updates = []  # G's weights after each step, to replay the average by hand

    class Record(Callback):
        def on_step_end(self, trainer):
            updates.append(trainer.G.fc.parametrizations.weight.original.detach().clone())
    trainer.callbacks.append(Record())
    trainer.fit()
    expected = start["fc.parametrizations.weight.original"]
    for w in updates:
        expected = 0.5 * expected + 0.5 * w
    assert torch.allclose(ema.G_ema.fc.parametrizations.weight.original, expected, atol=1e-6)
    assert not torch.allclose(expected, updates[-1])  # the average lags behind G
    for name, buffer in G.named_buffers():
        assert torch.equal(ema.G_ema.get_buffer(name), buffer), name  # BN statistics and SN vectors copied
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["callbacks"]["0.EMA"]["G_ema"]  # with the weights
    assert torch.allclose(saved["fc.parametrizations.weight.original"], expected, atol=1e-6)
    assert ema.sample(torch.randn(2, 16), torch.tensor([1, 2])).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)
    with pytest.raises(RuntimeError, match="no averaged G yet"):
        EMA().sample(torch.randn(2, 16))


def test_fixed_inputs_make_progress_pictures_show_G_on_them():
    # an image-to-image G has no noise: its progress pictures are G on fixed held-out conditions
    seed_everything(0)
    pairs = make_pairs(tiny_data(32), "edges")
    conditions = to_float(pairs.conditions[:6])  # (6, 1, 28, 28) in [-1, 1]
    G, D = UNetGenerator(1, (1, 28, 28), base=4), PatchDiscriminator(1, (1, 28, 28), base=4)
    config = TrainConfig(steps=1, batch_size=8, log_every=1, progress=False, device="cpu")
    trainer = Trainer(G, D, *pix2pix_steps(), PairSampler(pairs, 8), config, callbacks=[FixedInputs(conditions)])
    trainer.fit()  # the callback hands the inputs over when training starts
    samples = trainer.sample_fixed()
    assert samples.shape == (6, 1, 28, 28) and torch.equal(samples, translate(G, conditions))
    assert G.training  # sampled in eval mode, then back


def test_set_fixed_inputs_takes_labels_for_a_conditional_G():
    seed_everything(0)
    G = ConditionalGenerator(8, (1, 28, 28), 10, base=4)
    config = TrainConfig(steps=1, batch_size=8, progress=False, device="cpu", n_fixed=16)
    trainer = Trainer(G, DCGANDiscriminator((1, 28, 28), base=4, norm="layer"), *wgan_gp_steps(), tiny_data(),
                      config)
    assert trainer.sample_fixed().shape == (16, 1, 28, 28)  # the fixed noise, one class after the other
    z, labels = torch.randn(3, 8), torch.tensor([7, 7, 7])
    trainer.set_fixed_inputs(z, labels)
    with torch.no_grad():
        expected = G.eval()(z, labels)
    G.train()
    assert torch.equal(trainer.sample_fixed(), expected)


def test_killed_and_resumed_run_with_ema_and_metric_is_bit_identical(tmp_path):
    # EMA kept its average in a second file written after the checkpoint, and the metric measured at a checkpoint
    # step was missing from it: a resumed run had another G_ema and another history than an uninterrupted one
    start = {k: v.clone() for k, v in make_trainer().G.state_dict().items()}  # every run's G before training

    def drift(G):  # how far the scored G_ema moved from the start: lower is "better", so the best is an early
        # measurement, made before the crash, which only the checkpoint can tell the resumed run
        return {"drift": float(sum((v.double() - start[k].double()).abs().sum()
                                   for k, v in G.state_dict().items() if v.is_floating_point())),
                "w": float(sum(p.double().sum() for p in G.parameters()))}

    def callbacks():
        return [EMA(decay=0.8), MetricCallback(drift, every=3, name="drift", verbose=False)]
    straight_cbs = callbacks()
    straight = make_trainer(tmp_path / "a", callbacks=straight_cbs, ckpt_every=6)
    straight.fit()
    crashed = make_trainer(tmp_path / "b", callbacks=[*callbacks(), CrashAt(8)], ckpt_every=6)
    with pytest.raises(Crash):
        crashed.fit()  # dies at step 8, after the checkpoint of step 6
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 6
    torch.manual_seed(1234)  # a new process starts with other RNG state: resume must restore it
    resumed_cbs = callbacks()  # fresh callbacks, as in a new process: their state comes from the checkpoint
    resumed = make_trainer(tmp_path / "b", callbacks=resumed_cbs, ckpt_every=6, resume=True)
    assert resumed.step == 6
    resumed.fit()
    assert resumed.step == straight.step == 12
    a, b = weights(straight), weights(resumed)  # final G and D
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ema_a, ema_b = straight_cbs[0].G_ema.state_dict(), resumed_cbs[0].G_ema.state_dict()
    assert ema_a.keys() == ema_b.keys()
    for k in ema_a:
        assert torch.equal(ema_a[k], ema_b[k]), f"G_ema.{k}"
    assert resumed.history == straight.history  # the metric measured at step 6 is in the step-6 checkpoint
    assert resumed.history["drift_step"] == [3, 6, 9, 12]
    metric_a, metric_b = straight_cbs[1], resumed_cbs[1]
    assert metric_a.best_step <= 6  # the best came before the crash: only the checkpoint can tell the resumed run
    assert (metric_b.best, metric_b.best_step) == (metric_a.best, metric_a.best_step)
    assert [r["step"] for r in metric_b.results] == [9, 12]  # measured after the resume, not replayed
    best_a, best_b = load_checkpoint(tmp_path / "a" / "best.pt"), load_checkpoint(tmp_path / "b" / "best.pt")
    assert best_a["step"] == best_b["step"] == metric_a.best_step
    assert all(torch.equal(best_a["G"][k], best_b["G"][k]) for k in best_a["G"])

"""Metrics during training: MetricCallback's history, best score and best.pt, its early-stop and NaN cases, its
seeded noise (training is unchanged), its scoring of EMA's average, and the ready-made metrics."""
import numpy as np
import pytest
import torch

from ganhelpers.core import EMA, Callback
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import load_dataset, make_pairs, mixture_centers, to_float
from ganhelpers.eval.metrics import Metric, MetricCallback, heldout_metric, judge_metric, mixture_metric
from tests.helpers import make_trainer


def scripted(values, name="toy"):
    values = iter(values)
    return Metric(name, lambda G: {name: next(values), "extra": 1.0})


def test_metric_callback_records_history_and_keeps_best(tmp_path):
    callback = MetricCallback(scripted([5.0, 3.0, 4.0, 4.0]), every=3, verbose=False)
    trainer = make_trainer(tmp_path, [callback])
    trainer.fit()
    assert trainer.history["toy"] == [5.0, 3.0, 4.0, 4.0] and trainer.history["toy_step"] == [3, 6, 9, 12]
    assert callback.best == 3.0 and callback.best_step == 6
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 6  # kept from the best step, not overwritten
    assert callback.results[0] == {"step": 3, "toy": 5.0, "extra": 1.0}
    header, *rows = (tmp_path / "history.csv").read_text().splitlines()
    assert "toy" in header.split(",") and len(rows) == 4


def test_metric_callback_higher_is_better_nan_and_early_stop(tmp_path, capsys):
    class StopAt4(Callback):
        def on_step_end(self, trainer):
            if trainer.step == 4:
                trainer.stop("enough")
    values = iter([float("nan"), 1.0])
    callback = MetricCallback(lambda G: next(values), every=3, name="modes", higher_is_better=True)
    trainer = make_trainer(tmp_path, [callback, StopAt4()])
    trainer.fit()
    assert trainer.history["modes_step"] == [3, 4]  # and once more where the run stopped
    assert callback.best == 1.0 and load_checkpoint(tmp_path / "best.pt")["step"] == 4  # NaN never wins
    out = capsys.readouterr().out
    assert "step 3: modes nan  (no finite value yet)" in out and "step 4: modes 1  (best so far)" in out
    assert "modes" in (tmp_path / "history.csv").read_text().splitlines()[0]  # rewritten after the last value


def test_metric_callback_does_not_change_training(tmp_path):
    plain = make_trainer(steps=6)
    plain.fit()
    judged = make_trainer(tmp_path, [MetricCallback(judge_metric("mnist-5k", n=64), every=3, verbose=False)],
                          steps=6)
    judged.fit()
    assert len(judged.history["judge_fd"]) == 2 and all(np.isfinite(judged.history["judge_fd"]))
    for key, value in plain.G.state_dict().items():
        assert torch.equal(value, judged.G.state_dict()[key]), key
    for key, value in plain.D.state_dict().items():
        assert torch.equal(value, judged.D.state_dict()[key]), key


def test_metric_callback_scores_the_ema_generator_of_an_ema_callback():
    # EMA kept its average to itself, so MetricCallback scored the live G: both parts now run together for real
    seen = []

    def metric(G):
        seen.append(G)
        return {"x": sum(float(p.sum()) for p in G.parameters())}
    ema = EMA(decay=0.5)
    trainer = make_trainer(callbacks=[ema, MetricCallback(metric, every=3, name="x", verbose=False)], steps=6)
    trainer.fit()
    assert seen == [ema.G_ema, ema.G_ema] and trainer.G_ema is ema.G_ema and ema.G_ema is not trainer.G
    live = sum(float(p.detach().sum()) for p in trainer.G.parameters())
    assert trainer.history["x"][-1] != live  # the average's weights were scored, not the live G's


def test_mixture_metric_tracks_modes_of_a_point_generator():
    class OneMode(torch.nn.Module):  # a collapsed 2-D generator
        z_dim, n_classes = 2, 0

        def __init__(self):
            super().__init__()
            self.center = torch.nn.Parameter(mixture_centers("ring8")[0][3].clone())

        def forward(self, z, labels=None):
            return self.center + 0.001 * z
    scores = mixture_metric("ring8", n=400)(OneMode())
    assert scores == {"modes_covered": 1, "high_quality": 1.0}


def test_heldout_metric_scores_an_image_to_image_generator_by_l1():
    pairs = make_pairs(load_dataset("mnist-5k", "test", n=20))

    class Perfect(torch.nn.Module):  # "translates" each condition into its own target
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.targets = {bytes(c.flatten().tolist()): to_float(t) for c, t in zip(pairs.conditions, pairs.images)}

        def forward(self, condition):
            back = ((condition + 1) * 127.5).round().to(torch.uint8)
            return torch.stack([self.targets[bytes(c.flatten().tolist())] for c in back]) + self.w

    metric = heldout_metric(pairs, batch_size=7)
    assert metric.name == "l1" and not metric.higher_is_better
    assert metric(Perfect()) == {"l1": 0.0, "hf_ratio": pytest.approx(1.0)}

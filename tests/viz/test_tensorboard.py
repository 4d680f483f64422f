"""The TensorBoard callback. Its logging tests are skipped when the optional tensorboard package is
not installed (pip install tensorboard); the test of the missing-package message always runs."""
import sys

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from ganhelpers.core import Callback, TrainConfig, Trainer  # noqa: E402
from ganhelpers.data import ImageSet, make_mixture  # noqa: E402
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from ganhelpers.models.mlp import MLPDiscriminator, MLPGenerator  # noqa: E402
from ganhelpers.models.steps import bce_steps  # noqa: E402
from ganhelpers.viz.tensorboard import TensorBoardLogger, summary_writer_class  # noqa: E402


def test_missing_tensorboard_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # the import now raises ImportError
    with pytest.raises(ImportError, match="pip install tensorboard"):
        summary_writer_class()
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoardLogger("unused")


def events(log_dir):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed (optional: pip install tensorboard)")
    acc = accumulator.EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


class FakeFID(Callback):
    """Writes a metric column the way eval.metrics.MetricCallback does: "fid" with "fid_step"."""

    def on_step_end(self, trainer):
        if trainer.step % 4 == 0:
            trainer.history.setdefault("fid", []).append(100.0 / trainer.step)
            trainer.history.setdefault("fid_step", []).append(trainer.step)


def test_scalars_metrics_and_sample_grids_reach_the_event_file(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (optional: pip install tensorboard)")
    g = torch.Generator().manual_seed(0)
    data = ImageSet(torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g),
                    torch.arange(64) % 10, [str(i) for i in range(10)], "tiny")
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    config = TrainConfig(steps=10, batch_size=8, log_every=2, progress=False, device="cpu", n_fixed=16)
    logger = TensorBoardLogger(tmp_path / "tb", images_every=4, nrow=4)
    trainer = Trainer(G, D, *bce_steps(), data, config, callbacks=[FakeFID(), logger], meta={"model": "dcgan"})
    history = trainer.fit()
    acc = events(tmp_path / "tb")
    tags = acc.Tags()
    assert set(tags["scalars"]) >= {"train/loss_D", "train/loss_G", "train/D_real", "train/D_fake", "metrics/fid"}
    loss_D = acc.Scalars("train/loss_D")
    assert [e.step for e in loss_D] == history["step"] == [2, 4, 6, 8, 10]
    assert [e.value for e in loss_D] == pytest.approx(history["loss_D"], rel=1e-6)
    assert [(e.step, e.value) for e in acc.Scalars("metrics/fid")] == [(4, 25.0), (8, 12.5)]  # each logged once
    images = acc.Images("samples")
    assert [e.step for e in images] == [0, 4, 8, 10]  # start, every 4 steps, the end
    assert (images[0].width, images[0].height) == (4 * 30 + 2, 4 * 30 + 2)  # 16 tiles of 28 px, 4 per row
    assert logger.writer is None  # closed at the end


def test_point_data_logs_a_scatter_plot(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (optional: pip install tensorboard)")
    data = make_mixture("ring8", n=256)
    G = MLPGenerator(z_dim=4, img_shape=(2,), hidden=(16,), batch_norm=False, output="linear")
    D = MLPDiscriminator(img_shape=(2,), hidden=(16,))
    config = TrainConfig(steps=4, batch_size=32, log_every=2, progress=False, device="cpu", n_fixed=32)
    Trainer(G, D, *bce_steps(), data, config, callbacks=[TensorBoardLogger(tmp_path, images_every=0)]).fit()
    assert [e.step for e in events(tmp_path).Images("samples")] == [0, 4]


def test_bad_images_every():
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (optional: pip install tensorboard)")
    with pytest.raises(ValueError, match="images_every"):
        TensorBoardLogger("unused", images_every=-1)

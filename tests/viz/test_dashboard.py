"""The live dashboard: widgets updated in place, the Stop button (also while a kernel is busy), static mode's
figures and lines, the status line, and the real trainer driving it."""
import json
import os
import sys
import textwrap
import time
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

import pytest  # noqa: E402
import torch  # noqa: E402

from ganhelpers.core import Callback, TrainConfig, Trainer  # noqa: E402
from ganhelpers.data import ImageSet, make_mixture  # noqa: E402
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from ganhelpers.models.mlp import MLPDiscriminator, MLPGenerator  # noqa: E402
from ganhelpers.models.steps import bce_steps  # noqa: E402
from ganhelpers.viz import dashboard, plot  # noqa: E402
from ganhelpers.viz.dashboard import Dashboard  # noqa: E402

ipywidgets = pytest.importorskip("ipywidgets")
ROOT = Path(__file__).resolve().parents[2]  # the checkout


class FakeTrainer:
    """The part of `Trainer` a callback sees: history, step, config, stop, sample_fixed. A critic logs its raw
    scores as critic_real/critic_fake, a discriminator its probabilities as D_real/D_fake."""

    def __init__(self, steps=100, log_every=10, points=False, critic=False):
        self.config = types.SimpleNamespace(steps=steps, log_every=log_every)
        self.scores = ("critic_real", "critic_fake") if critic else ("D_real", "D_fake")
        self.history = {"step": [], "loss_D": [], "loss_G": [], **{k: [] for k in self.scores}}
        self.step, self.points = 0, points
        self.stop_reasons, self.stopped_reason = [], ""

    def stop(self, reason="stopped"):
        self.stop_reasons.append(reason)

    def sample_fixed(self):
        g = torch.Generator().manual_seed(self.step)  # a new picture every step
        if self.points:
            return torch.randn(32, 2, generator=g)
        return torch.rand(16, 1, 8, 8, generator=g) * 2 - 1

    def run(self, callback, until=None):
        """Drive the callback like `Trainer.fit` does, up to step `until` (default: the end)."""
        for _ in range(self.step, until or self.config.steps):
            self.step += 1
            if self.step % self.config.log_every == 0:
                row = {"step": self.step, "loss_D": 1.0 / self.step, "loss_G": 0.5 + self.step / 100,
                       self.scores[0]: 0.7, self.scores[1]: 0.3}
                for k, v in row.items():
                    self.history[k].append(v)
                callback.on_log(self, row)
            callback.on_step_end(self)


def test_widgets_mode_builds_and_updates_in_place():
    trainer, dash = FakeTrainer(), Dashboard(mode="widgets")
    dash.on_train_start(trainer)
    assert dash.active_mode == "widgets" and isinstance(dash.panel, ipywidgets.VBox)
    assert isinstance(dash.curves, ipywidgets.Image) and isinstance(dash.samples, ipywidgets.Image)
    assert isinstance(dash.status, ipywidgets.HTML) and isinstance(dash.button, ipywidgets.Button)
    assert dash.curves.value == b"" and bytes(dash.samples.value).startswith(b"\x89PNG")  # samples from step 0
    assert "step 0/100" in dash.status.value

    trainer.run(dash, until=10)
    first_curves, first_samples = dash.curves.value, dash.samples.value
    assert bytes(first_curves).startswith(b"\x89PNG") and first_samples != b""
    trainer.run(dash, until=20)
    assert dash.curves.value != first_curves and dash.samples.value != first_samples
    status = dash.status.value
    assert "step 20/100" in status and "loss_D 0.05" in status and "D(x) 0.70" in status and "D(G(z)) 0.30" in status

    trainer.run(dash)
    trainer.stopped_reason = "finished"
    dash.on_train_end(trainer)
    assert "step 100/100" in dash.status.value and "finished" in dash.status.value
    assert dash.button.disabled and trainer.stop_reasons == []


def test_widgets_refresh_every_n_logs():
    trainer, dash = FakeTrainer(), Dashboard(mode="widgets", every=2)
    dash.on_train_start(trainer)
    trainer.run(dash, until=10)
    assert dash.curves.value == b""  # first log: not yet
    trainer.run(dash, until=20)
    second = dash.curves.value
    assert second != b""
    trainer.run(dash, until=30)
    assert dash.curves.value == second
    trainer.run(dash, until=40)
    assert dash.curves.value != second


def test_stop_button_asks_the_trainer_to_stop():
    trainer, dash = FakeTrainer(), Dashboard(mode="widgets")
    dash.on_train_start(trainer)
    trainer.run(dash, until=30)
    dash.button.click()
    assert trainer.stop_reasons == ["stopped by the user"]
    assert dash.button.disabled and "stopping" in dash.status.value


def test_widgets_mode_with_point_data_and_critic_scores():
    trainer = FakeTrainer(points=True, critic=True)
    dash = Dashboard(mode="widgets")
    dash.on_train_start(trainer)
    trainer.run(dash, until=20)
    assert bytes(dash.samples.value).startswith(b"\x89PNG")
    assert "f(x) 0.7 · f(G(z)) 0.3" in dash.status.value  # raw scores: no fixed two decimals
    assert "D(x)" not in dash.status.value


def test_status_line_includes_extras_and_latest_metrics():
    trainer = FakeTrainer()
    trainer.step = 40
    trainer.history.update({"fid": [80.0, 61.25], "fid_step": [20, 40]})
    line = dashboard.status_line(trainer, {"step": 40, "loss_D": 0.61, "loss_G": 1.9, "D_real": 0.71,
                                           "D_fake": 0.3, "gp": 0.125})
    assert line == ("step 40/100 · loss_D 0.61 · loss_G 1.9 · D(x) 0.71 · D(G(z)) 0.30 · gp 0.125"
                    " · fid 61.2 (step 40)")


def test_status_line_names_a_critic_s_scores_by_their_keys():
    trainer = FakeTrainer(critic=True)
    trainer.step = 10
    line = dashboard.status_line(trainer, {"step": 10, "loss_D": -1.5, "loss_G": 2.0, "critic_real": 3.25,
                                           "critic_fake": -2.5, "W_estimate": 5.75})
    assert line == "step 10/100 · loss_D -1.5 · loss_G 2 · f(x) 3.25 · f(G(z)) -2.5 · W_estimate 5.75"


def test_static_mode_without_ipython_prints_status_lines(capsys):
    trainer, dash = FakeTrainer(steps=100, log_every=10), Dashboard(mode="static")
    dash.on_train_start(trainer)
    trainer.run(dash)
    trainer.stopped_reason = "finished"
    dash.on_train_end(trainer)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "static" in lines[0]
    # 10 logged rows: every 2nd one (not the last, the end covers it), then the final line: 5 in all
    assert [line.split(" · ")[0] for line in lines[1:]] == [f"step {s}/100" for s in (20, 40, 60, 80, 100)]
    assert lines[-1].endswith("finished")


def test_static_mode_in_ipython_shows_about_five_figures(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(dashboard, "in_ipython", lambda: True)
    monkeypatch.setattr(plot, "display_figure", shown.append)
    trainer, dash = FakeTrainer(steps=300, log_every=10), Dashboard(mode="static")
    dash.on_train_start(trainer)
    trainer.run(dash)
    dash.on_train_end(trainer)
    assert len(shown) == 5
    assert all(len(fig.axes) == 3 for fig in shown)  # losses, D outputs, samples
    assert shown[-1]._suptitle.get_text() == "step 300/300"


def test_auto_mode_picks_static_outside_a_kernel_and_widgets_inside(monkeypatch, capsys):
    dash = Dashboard()  # mode="auto"
    dash.on_train_start(FakeTrainer())
    assert dash.active_mode == "static" and dash.panel is None

    monkeypatch.setattr(dashboard, "in_kernel", lambda: True)
    dash = Dashboard()
    dash.on_train_start(FakeTrainer())
    assert dash.active_mode == "widgets"


def test_without_ipywidgets_auto_falls_back_and_widgets_mode_says_why(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    monkeypatch.setattr(dashboard, "in_kernel", lambda: True)
    dash = Dashboard()
    trainer = FakeTrainer()
    dash.on_train_start(trainer)
    trainer.run(dash)
    assert dash.active_mode == "static"
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        Dashboard(mode="widgets").on_train_start(FakeTrainer())


def test_bad_arguments_fail_loudly():
    with pytest.raises(ValueError, match="mode"):
        Dashboard(mode="live")
    with pytest.raises(ValueError, match="every"):
        Dashboard(every=0)


def test_kernel_events_never_raise(monkeypatch):
    import IPython

    events = dashboard.KernelEvents()
    events.process()  # no IPython at all: nothing to do
    assert events.enabled and events.error is None

    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    events.process()  # a kernel it does not understand: turned off, not raised
    assert not events.enabled and events.error is not None
    events.process()  # and stays off quietly


class ClickAt(Callback):
    def __init__(self, dash, step):
        self.dash, self.at = dash, step

    def on_step_end(self, trainer):
        if trainer.step == self.at:
            self.dash.button.click()


def test_with_the_real_trainer_stop_ends_the_run_gracefully():
    g = torch.Generator().manual_seed(0)
    data = ImageSet(torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g),
                    torch.arange(64) % 10, [str(i) for i in range(10)], "tiny")
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    dash = Dashboard(mode="widgets")
    config = TrainConfig(steps=50, batch_size=8, log_every=2, progress=False, device="cpu", n_fixed=16)
    trainer = Trainer(G, D, *bce_steps(), data, config, callbacks=[dash, ClickAt(dash, 5)])
    trainer.fit()
    assert trainer.step == 5 and trainer.stopped_reason == "stopped by the user"
    assert dash.button.description == "Stopped" and "stopped by the user" in dash.status.value


def test_with_the_real_trainer_on_points_in_static_mode(capsys):
    data = make_mixture("ring8", n=256)
    G = MLPGenerator(z_dim=4, img_shape=(2,), hidden=(16,))
    D = MLPDiscriminator(img_shape=(2,), hidden=(16,))
    config = TrainConfig(steps=20, batch_size=32, log_every=2, progress=False, device="cpu", n_fixed=32)
    Trainer(G, D, *bce_steps(), data, config, callbacks=[Dashboard(mode="static")]).fit()
    out = capsys.readouterr().out
    assert "step 20/20" in out and "finished" in out


# ---- a real kernel: the click must get through while the training cell is still running ----------

KERNEL_CELL = textwrap.dedent("""
    import torch
    from ganhelpers.core import Callback, TrainConfig, Trainer
    from ganhelpers.data import ImageSet
    from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from ganhelpers.models.steps import bce_steps
    from ganhelpers.viz.dashboard import Dashboard

    class Announce(Callback):
        def on_step_end(self, trainer):
            if trainer.step == 1:
                print("READY", dash.button.model_id, flush=True)

    data = ImageSet(torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), torch.arange(64) % 10,
                    [str(i) for i in range(10)], "tiny")
    G, D = DCGANGenerator(8, (1, 28, 28), base=4), DCGANDiscriminator((1, 28, 28), base=4)
    dash = Dashboard(every=5)
    config = TrainConfig(steps=100000, batch_size=8, log_every=10, progress=False, device="cpu", n_fixed=16)
    trainer = Trainer(G, D, *bce_steps(), data, config, callbacks=[dash, Announce()])
    trainer.fit()
    print("DONE", dash.active_mode, trainer.step, trainer.stopped_reason, dash.events_error, flush=True)
""")


def test_stop_button_works_while_a_kernel_is_busy(tmp_path):
    manager_module = pytest.importorskip("jupyter_client.manager")
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp_path / "kernels" / "ganhelpers-test"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "ganhelpers test", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    km = manager_module.KernelManager(kernel_name="ganhelpers-test",
                                      kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": path}
    km.start_kernel(cwd=str(ROOT), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute(KERNEL_CELL)
        kc.execute("print('NEXT CELL', trainer.step)")  # queued while training: must wait its turn
        texts, types_seen, deadline = [], [], time.monotonic() + 120
        while time.monotonic() < deadline and not any("NEXT CELL" in t for t in texts):
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Exception:  # queue.Empty: nothing this second
                continue
            types_seen.append(msg["msg_type"])
            if msg["msg_type"] == "error":
                pytest.fail("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] == "stream":
                texts.append(msg["content"]["text"])
                if msg["content"]["text"].startswith("READY"):
                    model_id = msg["content"]["text"].split()[1]
                    click = {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}}
                    kc.shell_channel.send(kc.session.msg("comm_msg", click))
        output = "".join(texts)
        done = [line for line in output.splitlines() if line.startswith("DONE")]
        assert done, f"the training cell did not finish: {output!r}"
        _, mode, step, *reason = done[0].split()
        assert mode == "widgets" and " ".join(reason) == "stopped by the user None"
        assert int(step) < 5000  # a click that waited for the cell would let all 100000 steps run
        assert output.index("DONE") < output.index("NEXT CELL") and f"NEXT CELL {step}" in output
        assert types_seen.count("display_data") == 1 and "clear_output" not in types_seen  # updated in place
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

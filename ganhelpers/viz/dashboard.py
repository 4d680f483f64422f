"""The live training dashboard: a `Callback` that shows the game as it is played.

    from ganhelpers.viz.dashboard import Dashboard
    trainer = Trainer(G, D, d_step, g_step, data, config, callbacks=[Dashboard()])
    trainer.fit()

In a Jupyter kernel with ipywidgets it draws one panel that is updated in place (no `clear_output`,
so notebook outputs stay small and nbval sees a single display): a status line, the loss curves,
D(x) and D(G(z)), the latest fixed-noise samples and a Stop button. Elsewhere it falls back to a few
static figures (IPython without widgets) or to one printed status line per refresh (plain Python, the
command line). ipywidgets is imported only when a widget panel is built, so this module imports
anywhere.
"""
from __future__ import annotations

import asyncio
import html
import inspect
import math
import time

from ..core.callbacks import Callback
from . import plot

DISPLAY_MODES = ("auto", "widgets", "static")
STATIC_FIGURES = 5  # static mode: about this many figures over a run, the final one included
STOP_REASON = "stopped by the user"  # what the Stop button passes to trainer.stop


def in_ipython() -> bool:
    """True inside IPython (a terminal IPython or a Jupyter kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, Colab, VS Code), where widgets can render."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def status_line(trainer, logs: dict | None = None) -> str:
    """One line about a run: "step 300/1000 · loss_D 0.61 · loss_G 1.9 · D(x) 0.71 · D(G(z)) 0.30".

    logs: the latest history row (defaults to the last row of `trainer.history`). D's probabilities
    (D_real, D_fake) show two decimals, a critic's scores (critic_real, critic_fake) three digits; other keys
    of the row (e.g. "gp") and the latest value of each metric column (e.g. "fid") follow.
    """
    history = trainer.history
    if logs is None:
        logs = {k: v[-1] for k, v in history.items() if v and f"{k}_step" not in history and not k.endswith("_step")}
    parts = [f"step {trainer.step}/{trainer.config.steps}"]
    names = {"D_real": "D(x)", "D_fake": "D(G(z))", "critic_real": "f(x)", "critic_fake": "f(G(z))"}
    ordered = [k for k in ("loss_D", "loss_G", *names) if k in logs]
    ordered += [k for k in logs if k not in ordered and k != "step" and not k.endswith("_step")]
    for key in ordered:
        value = logs[key]
        if isinstance(value, (int, float)) and key in names:
            parts.append(f"{names[key]} {value:.2f}" if key.startswith("D_") else f"{names[key]} {value:.3g}")
        elif isinstance(value, (int, float)):
            parts.append(f"{key} {value:.3g}")
    for key in plot.metric_columns(history):
        if key not in logs:
            parts.append(f"{key} {history[key][-1]:.3g} (step {history[f'{key}_step'][-1]})")
    return " · ".join(parts)


class Dashboard(Callback):
    """Live view of training: curves, D(x)/D(G(z)), fixed-noise samples and a Stop button.

    every: refresh the panel every `every` logged rows (a row is written every `config.log_every`
    steps); one more refresh comes at the end. A refresh costs 0.2-0.4 s of CPU time, so raise `every`
    when logging often.
    figsize: inches of the curves figure, drawn at 80 dpi and scaled down by the browser where the output
    area is too narrow for it beside the sample grid (shown at its own pixel size, up to half the width).
    mode: "widgets" (an ipywidgets panel updated in place), "static" (figures, or printed lines) or
    "auto": widgets inside a Jupyter kernel with ipywidgets installed, static anywhere else.
    static_every: static mode refreshes every this many logged rows; None spreads about five figures
    over the run (computed from `config.steps` and `config.log_every` when training starts). In plain
    Python (no IPython) static mode prints the status line instead of a figure, and never raises.
    nrow: images per row of the sample grid.

    The Stop button calls `trainer.stop("stopped by the user")`: the loop finishes the current step
    and returns normally (saving its checkpoint when it has an out_dir), so later cells still work.
    A click reaches the kernel as a message, which a kernel busy running a cell normally handles only
    after the cell ends. So at every refresh, and about twice a second in between, the dashboard lets
    the kernel handle pending widget messages, and only those (`KernelEvents`): cells queued meanwhile
    still wait their turn. Tested with ipykernel 6.17, 6.29 and 7.4, the kernels behind JupyterLab,
    Notebook and VS Code; Colab's kernel builds on ipykernel 6, so it should work there too. It relies
    on kernel internals: if that ever fails (a future ipykernel), it turns itself off for the run
    (`events_error` says why, so does the button's tooltip), and a click is then seen only once the
    training cell has ended: use the kernel's interrupt (the ■ button) instead, which stops at once.
    """

    def __init__(self, every: int = 1, figsize=(10, 3.2), mode: str = "auto", static_every: int | None = None,
                 nrow: int = 8):
        if mode not in DISPLAY_MODES:
            raise ValueError(f"Dashboard mode={mode!r}: use one of {DISPLAY_MODES}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Dashboard every={every!r} must be a whole number >= 1")
        if static_every is not None and (not isinstance(static_every, int) or static_every < 1):
            raise ValueError(f"Dashboard static_every={static_every!r} must be a whole number >= 1 or None")
        self.every, self.figsize, self.mode, self.nrow = every, tuple(figsize), mode, nrow
        self.static_every = static_every
        self.active_mode: str | None = None  # "widgets" or "static", decided in on_train_start
        self.trainer = None
        self.panel = None  # the top ipywidgets box in widgets mode
        self._events = KernelEvents()
        self._n_logs = 0
        self._last_pump = 0.0
        self._curves_fig = self._points_fig = None

    @property
    def events_error(self):
        """Why widget messages stopped being processed during training (None while all is well)."""
        return self._events.error

    # ---- callback hooks ------------------------------------------------------------------------
    def on_train_start(self, trainer):
        self.trainer, self._n_logs = trainer, 0
        self.active_mode = self._choose_mode()
        if self.active_mode == "widgets":
            self._build()
            self.refresh()
            return
        if self.static_every is None:
            logs_left = math.ceil(max(trainer.config.steps - trainer.step, 1) / trainer.config.log_every)
            self._static_every = max(1, math.ceil(logs_left / STATIC_FIGURES))
        else:
            self._static_every = self.static_every
        print(f"dashboard: static view (no Jupyter widgets here), an update every "
              f"{self._static_every * trainer.config.log_every} steps")

    def on_step_end(self, trainer):
        # between refreshes, still let a Stop click through about twice a second
        if self.active_mode == "widgets" and time.monotonic() - self._last_pump > 0.5:
            self._pump()

    def on_log(self, trainer, logs):
        if self.active_mode is None:
            return  # on_train_start has not run: nothing to draw on
        self._n_logs += 1
        if self.active_mode == "widgets":
            if self._n_logs % self.every == 0:
                self.refresh(logs)
        elif self._n_logs % self._static_every == 0 and trainer.step < trainer.config.steps:
            self._static_refresh(logs)  # the last step is left to on_train_end's final figure

    def on_train_end(self, trainer):
        if self.active_mode == "widgets":
            self.refresh(final=True)
        elif self.active_mode == "static":
            self._static_refresh(final=True)

    # ---- widgets mode --------------------------------------------------------------------------
    def _choose_mode(self) -> str:
        if self.mode == "widgets":
            if not widgets_available():
                raise ImportError("Dashboard(mode='widgets') needs ipywidgets: pip install ipywidgets "
                                  "(or use mode='auto' to fall back to static figures)")
            return "widgets"
        if self.mode == "static":
            return "static"
        return "widgets" if in_kernel() and widgets_available() else "static"

    def _build(self) -> None:
        import ipywidgets as w

        self.status = w.HTML(value=self._status_html("starting"))
        self.button = w.Button(description="Stop", icon="stop", button_style="danger",
                               tooltip="end training after the current step (the run is kept)")
        self.button.on_click(self._on_stop)
        # side by side the curves (800 px at the default figsize) and the grid can be wider than the output
        # area, and a flex item never shrinks below its picture by default, which cuts the grid off at the
        # right edge: so the curves give way (scaled down), the grid keeps its pixel size up to half the row
        self.curves = w.Image(format="png", layout=w.Layout(flex="0 1 auto", min_width="0", max_width="100%",
                                                              height="auto"))
        self.samples = w.Image(format="png", layout=w.Layout(flex="0 0 auto", max_width="50%", height="auto"))
        self.panel = w.VBox([w.HBox([self.button, self.status], layout=w.Layout(align_items="center")),
                             w.HBox([self.curves, self.samples],
                                    layout=w.Layout(align_items="center", width="100%"))])
        if in_ipython():
            from IPython.display import display
            display(self.panel)

    def refresh(self, logs: dict | None = None, final: bool = False) -> None:
        """Redraw the widgets panel in place from the trainer's current state (widgets mode)."""
        if self.panel is None:
            return
        trainer = self.trainer
        if any(trainer.history.get(k) for k in ("loss_D", "loss_G", "D_real", "D_fake")):
            self.curves.value = self._curves_png()
        self.samples.value = self._samples_png()
        if final:
            reason = getattr(trainer, "stopped_reason", "") or "finished"
            self.status.value = self._status_html(reason)
            self.button.disabled, self.button.description = True, "Stopped" if reason == STOP_REASON else "Done"
        elif not self.button.disabled:
            self.status.value = self._status_html(None, logs)
        self._pump()

    def _status_html(self, note: str | None, logs: dict | None = None) -> str:
        text = status_line(self.trainer, logs)
        if note:
            text += f" · {note}"
        return f'<span style="font-family: monospace; margin-left: 1em">{html.escape(text)}</span>'

    def _curves_png(self) -> bytes:
        if self._curves_fig is None:
            self._curves_fig, _ = plot.new_figure(1, figsize=self.figsize)
        fig = self._curves_fig
        fig.clear()  # rebuilt each time: a metric column may appear mid-run and add a panel
        axes = fig.subplots(1, 3 if plot.metric_columns(self.trainer.history) else 2)
        plot.plot_history(self.trainer.history, axes=axes)
        return plot.figure_to_png(fig)

    def _samples_png(self) -> bytes:
        samples = self.trainer.sample_fixed()  # (n, C, H, W) in [-1, 1], or (n, 2) points
        if samples.dim() == 4:
            return plot.array_to_png(plot.image_grid(samples, nrow=self.nrow))
        if self._points_fig is None:
            self._points_fig, _ = plot.new_figure(1, figsize=(self.figsize[1], self.figsize[1]))
        fig = self._points_fig
        fig.clear()
        real, centers = plot.real_points(self.trainer)
        plot.scatter_points(real, samples, ax=fig.subplots(), centers=centers, title=f"step {self.trainer.step}")
        plot.tight_layout(fig)
        return plot.figure_to_png(fig)

    def _on_stop(self, button) -> None:
        if self.trainer is not None:
            self.trainer.stop(STOP_REASON)
        button.disabled, button.description = True, "Stopping…"
        self.status.value = self._status_html("stopping after this step")

    def _pump(self) -> None:
        self._last_pump = time.monotonic()
        self._events.process()
        if not self._events.enabled and self._events.error is not None and self.panel is not None:
            self.button.tooltip = "this kernel cannot see a click while training: use interrupt (■)"

    # ---- static mode ---------------------------------------------------------------------------
    def _static_refresh(self, logs: dict | None = None, final: bool = False) -> None:
        trainer = self.trainer
        line = status_line(trainer, logs)
        if final:
            line += f" · {getattr(trainer, 'stopped_reason', '') or 'finished'}"
        print(line, flush=True)
        if not in_ipython() or not trainer.history.get("step"):
            return  # plain Python (the command line): the printed line is the whole view
        real, centers = plot.real_points(trainer)
        fig = plot.training_figure(trainer.history, trainer.sample_fixed(), nrow=self.nrow, real=real,
                                   centers=centers,
                                   title=f"step {trainer.step}/{trainer.config.steps}")
        plot.display_figure(fig)


class KernelEvents:
    """Lets a busy Jupyter kernel handle pending widget (comm) messages, such as a button click.

    While a cell runs, the kernel's event loop is blocked, so the messages a frontend sends wait in a
    ZeroMQ socket. `process()` drains that socket without waiting (ZMQStream.flush, the way pyzmq
    offers for it): widget messages are handled on the spot by the kernel's own comm handlers, every
    other message goes on to the kernel's usual handler, which queues it, so a cell queued meanwhile
    still runs after this one, in order. The socket is the main shell stream (ipykernel 6, or 7 without
    subshells) or the main thread's end of the shell channel (ipykernel 7). Anything unexpected turns it
    off for good (`enabled` False, `error` set) instead of raising: it never blocks and never raises.
    """

    COMM_TYPES = ("comm_open", "comm_msg", "comm_close")

    def __init__(self):
        self.enabled, self.error = True, None

    def process(self) -> None:
        if not self.enabled:
            return
        try:
            self._process()
        except Exception as e:  # the Stop button's plumbing must never break a training run
            self.enabled, self.error = False, e

    def _process(self) -> None:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return  # not in a kernel: nothing can send messages
        channel = getattr(kernel, "shell_channel_thread", None)
        if channel is not None:  # ipykernel 7: a thread receives and forwards to the main thread
            stream = channel.manager.get_shell_channel_to_subshell_pair(None).to_stream
        else:
            stream = kernel.shell_stream
        original = stream._recv_callback

        def route(frames):
            if self._msg_type(kernel, frames) in self.COMM_TYPES:
                self._handle_comm(kernel, frames)
                return None
            return original(frames)  # queued by the kernel as usual (a coroutine is scheduled by pyzmq)

        stream._recv_callback = route
        try:
            stream.flush(1)  # 1 = zmq.POLLIN: receive only, never wait
        finally:
            stream._recv_callback = original

    def _handle_comm(self, kernel, frames) -> None:
        try:
            idents, parts = kernel.session.feed_identities(frames, copy=False)
            msg = kernel.session.deserialize(parts, content=True, copy=False)
            result = kernel.shell_handlers[msg["header"]["msg_type"]](kernel.shell_stream, idents, msg)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)  # comm handlers are plain functions; just in case
        except Exception as e:  # as the kernel does for a failing handler: this message is lost
            self.enabled, self.error = False, e

    @staticmethod
    def _msg_type(kernel, frames) -> str | None:
        # read the header frame only: deserializing the message here would record its signature
        # and make the kernel reject it as a replay when it handles it for real
        try:
            raw = [f.bytes if hasattr(f, "bytes") else bytes(f) for f in frames]
            return kernel.session.unpack(raw[raw.index(b"<IDS|MSG>") + 2]).get("msg_type")
        except Exception:
            return None  # not a message we understand: the kernel's handler gets it untouched

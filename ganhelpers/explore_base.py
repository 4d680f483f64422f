"""How an explorer is shown: ipywidgets in a Jupyter kernel, a picture or a static figure elsewhere.

`Explorer` is the base class of the explorers in `ganhelpers.explore` (LatentExplorer,
InterpolationExplorer, PairExplorer); `upscale`, `side_by_side` and `stacked` compose their views from
(H, W, 3) uint8 pictures.

Display follows `widgets.Dashboard`: mode "auto" builds ipywidgets inside a Jupyter kernel and a
static matplotlib figure anywhere else (IPython without widgets; plain Python gets the figure from
`explorer.figure()`). Put the explorer last in a cell (or `display(explorer)`). In widgets mode the
display also carries a PNG of the starting view: where widgets cannot render (a viewer without
ipywidgets, a Markdown or PDF export) that picture shows instead of `VBox(...)`. Run headless
(nbval, nbconvert --execute) nothing needs a front end and nothing raises.
"""
from __future__ import annotations

import base64

import numpy as np
import torch

from . import plot
from .latent import generator_info
from .widgets import in_ipython, in_kernel, widgets_available

__all__ = ["Explorer", "MODES", "upscale", "side_by_side", "stacked"]

MODES = ("auto", "widgets", "static")


def upscale(array: np.ndarray, target: int = 512, max_factor: int = 8) -> np.ndarray:
    """Enlarge an (H, W, 3) uint8 picture by a whole factor (nearest neighbour, pixels stay crisp) so
    that its longer side comes near `target` pixels; never shrinks."""
    factor = int(min(max_factor, max(1, round(target / max(array.shape[:2])))))
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def side_by_side(pictures: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """(H_i, W_i, 3) uint8 pictures -> one picture, left to right, top-aligned, white gaps and padding."""
    height = max(p.shape[0] for p in pictures)
    parts = []
    for i, p in enumerate(pictures):
        p = np.concatenate([p, np.full((height - p.shape[0], *p.shape[1:]), 255, np.uint8)])
        parts += ([np.full((height, gap, 3), 255, np.uint8)] if i else []) + [p]
    return np.concatenate(parts, axis=1)


def stacked(pictures: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """(H_i, W_i, 3) uint8 pictures -> one picture, top to bottom, left-aligned, white gaps and padding."""
    return side_by_side([p.transpose(1, 0, 2) for p in pictures], gap).transpose(1, 0, 2)


class Explorer:
    """The base of every explorer: widgets (with a PNG of the view inside the same display) or a static figure.

    A subclass sets `css_class`, builds its controls in `_build()` (returning the top box, with the view in
    `self.image`, an ipywidgets Image), draws the view in `picture()` as an (H, W, 3) uint8 array and a
    summary in `figure()`, and calls `self._finish()` at the end of its __init__. G: a generator
    `G(z, labels)` with `z_dim` and `n_classes` (see `latent.generator_info`), or with latent=False any
    image-to-image module.
    """

    css_class = "ganhelpers-explorer"

    def __init__(self, G, mode: str, latent: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: use one of {MODES}")
        self.G = G
        # latent=False: an image-to-image G(condition) has neither z nor classes
        self.z_dim, self.n_classes = generator_info(G) if latent else (None, 0)
        if mode == "widgets" and not widgets_available():
            raise ImportError("mode='widgets' needs ipywidgets: pip install ipywidgets "
                              "(or use mode='auto' to fall back to a static figure)")
        if mode == "auto":
            mode = "widgets" if in_kernel() and widgets_available() else "static"
        self.active_mode = mode
        self.panel = None   # the top ipywidgets box (widgets mode)
        self.updates = 0    # how many times the view was redrawn (tests read it)

    def _finish(self) -> None:
        """Build the widgets (widgets mode) and draw once; subclasses call this at the end of __init__."""
        if self.active_mode == "widgets":
            self.panel = self._build()
            self.panel.add_class(self.css_class)
            self.refresh()

    def picture(self) -> np.ndarray:
        """The current view as an (H, W, 3) uint8 picture."""
        raise NotImplementedError

    def figure(self):
        """A static matplotlib figure summarising what the explorer shows (the fallback view)."""
        raise NotImplementedError

    def refresh(self, *_) -> None:
        if self.panel is not None:
            self.image.value = plot.array_to_png(upscale(self.picture()))
            self.updates += 1

    def _ipython_display_(self):
        from IPython.display import display

        if self.panel is None:  # static mode: a figure
            display(self.figure())
            return
        bundle = _widget_bundle(self.panel)  # {"text/plain", "application/vnd.jupyter.widget-view+json"}
        # the PNG is what a renderer without widgets shows (Markdown/PDF exports, plain viewers); JupyterLab,
        # Notebook, VS Code and nbconvert's HTML prefer the widget view
        bundle["image/png"] = base64.b64encode(bytes(self.image.value)).decode("ascii")
        bundle["text/plain"] = f"{type(self).__name__} (interactive: needs a Jupyter front end with ipywidgets)"
        display(bundle, raw=True)

    def show(self):
        """Display now in IPython/Jupyter; elsewhere return the static figure (for `fig.savefig`)."""
        if in_ipython():
            from IPython.display import display
            display(self)
            return None
        return self.figure()

    def _check_label(self, label: int, class_names) -> int:
        """The class to show (-1: one class per sample); 0 for an unconditional G."""
        if not self.n_classes:
            return 0
        if not (isinstance(label, int) and -1 <= label < self.n_classes):
            raise ValueError(f"label={label!r}: use a class in [0, {self.n_classes}) or -1 (one class per sample)")
        if class_names is not None and len(class_names) != self.n_classes:
            raise ValueError(f"{len(class_names)} class names for a generator with {self.n_classes} classes")
        return label

    @staticmethod
    def _image_view():
        """The explorer's picture as a widget, at its own pixel size: a flex column stretches its children
        to the full output width by default, which blurs a 400-pixel grid up to ~950 on a wide screen."""
        import ipywidgets as w

        return w.Image(format="png", layout=w.Layout(align_self="flex-start", max_width="100%", height="auto"))

    def _class_picker(self, class_names):
        import ipywidgets as w

        names = list(class_names) if class_names is not None else [f"class {i}" for i in range(self.n_classes)]
        options = [("one class per sample", -1)] + [(n, i) for i, n in enumerate(names)]
        return w.Dropdown(options=options, value=self.label, description="class")

    def _labels(self, n: int, label: int) -> torch.Tensor | None:
        if not self.n_classes:
            return None
        if label < 0:  # "one class per sample": 0, 1, 2, ...
            return torch.arange(n) % self.n_classes
        return torch.full((n,), int(label), dtype=torch.long)


def _widget_bundle(widget) -> dict:
    """A widget's display data. ipywidgets 8 builds it in `_repr_mimebundle_`; ipywidgets 7 (Colab's
    7.7.1) has no such method and builds the same two keys inside `_ipython_display_`."""
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_()
    return {"text/plain": repr(widget),
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                         "model_id": widget.model_id}}

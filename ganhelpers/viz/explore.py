"""Explore a trained generator: latent directions, interpolation, truncation, classes, Pix2Pix pairs.

    from ganhelpers.viz.explore import InterpolationExplorer, LatentExplorer, PairExplorer
    LatentExplorer(G)                 # a seed, a truncation slider, k latent directions (and a class)
    InterpolationExplorer(G)          # two seeds, slerp or lerp, a frame slider with a play button
    PairExplorer(G, (conditions, targets))   # Pix2Pix: condition | G(condition) | target

Any generator of the package works: `G(z, labels)` with attributes `z_dim` and `n_classes` (0 for
an unconditional G, which is then called with labels=None). The maths lives in `ganhelpers.viz.latent`
(`slerp`, `lerp`, `truncate`, `latent_directions`, `sample_z`).

How an explorer is shown (`Explorer`, the base class) follows `dashboard.Dashboard`: mode "auto" builds
ipywidgets inside a Jupyter kernel and a static matplotlib figure anywhere else (IPython without widgets;
plain Python gets the figure from `explorer.figure()`). Put the explorer last in a cell (or
`display(explorer)`). In widgets mode the display also carries a PNG of the starting view: where widgets
cannot render (a viewer without ipywidgets, a Markdown or PDF export) that picture shows instead of
`VBox(...)`. Run headless (nbval, nbconvert --execute) nothing needs a front end and nothing raises.
Moving a control re-runs G on a handful of latents (eval mode, no gradients): instant for the course's networks.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import torch

from ..data.sets import to_float
from ..nn.conventions import generate, generator_info, translate
from . import plot
from .dashboard import DISPLAY_MODES, in_ipython, in_kernel, widgets_available
from .latent import latent_directions, lerp, sample_z, slerp

__all__ = ["Explorer", "LatentExplorer", "InterpolationExplorer", "PairExplorer", "upscale", "side_by_side", "stacked"]

HIGHLIGHT = (220, 40, 40)  # the box around the current frame of an interpolation


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
    `G(z, labels)` with `z_dim` and `n_classes` (see `nn.conventions.generator_info`), or with latent=False any
    image-to-image module.
    """

    css_class = "ganhelpers-explorer"

    def __init__(self, G, mode: str, latent: bool = True):
        if mode not in DISPLAY_MODES:
            raise ValueError(f"mode={mode!r}: use one of {DISPLAY_MODES}")
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


class LatentExplorer(Explorer):
    """Sliders for a seed, truncation, k latent directions and (conditional G) the class.

    The view shows `n_samples` images: G(z_i + sum_k a_k d_k, label), where z_i come from the seed
    (truncated when the box is ticked), d_k are `latent_directions(z_dim, n_directions, directions)`
    and a_k the slider values in [-span, span]. All samples move along the same directions, so you see
    whether a direction does the same thing everywhere. class_names: names for the class picker.
    Taught in 02_dcgan.
    """

    css_class = "ganhelpers-latent-explorer"

    def __init__(self, G, n_directions: int = 4, directions: str = "axes", n_samples: int = 8, seed: int = 0,
                 truncation: float | None = None, span: float = 3.0, label: int = 0, class_names=None,
                 mode: str = "auto", continuous_update: bool = True):
        super().__init__(G, mode)
        self.directions = latent_directions(self.z_dim, n_directions, directions, seed=seed)  # (k, z_dim)
        self.kind, self.n_samples, self.span = directions, n_samples, span
        self.seed, self.truncation, self.label = seed, truncation, self._check_label(label, class_names)
        self.amounts = [0.0] * n_directions
        self.class_names, self.continuous_update = class_names, continuous_update
        self._finish()

    def latents(self) -> torch.Tensor:
        """The current latent vectors, (n_samples, z_dim)."""
        z = sample_z(self.n_samples, self.z_dim, self.seed, self.truncation)  # (n, z_dim)
        return z + torch.tensor(self.amounts) @ self.directions  # (k,) @ (k, z_dim) -> a shift for all

    def images(self) -> torch.Tensor:
        """G's images for the current controls, (n_samples, C, H, W) in [-1, 1]."""
        return generate(self.G, self.latents(), self._labels(self.n_samples, self.label))

    def picture(self) -> np.ndarray:
        return plot.image_grid(self.images(), nrow=self.n_samples)

    def _build(self):
        import ipywidgets as w

        cu = self.continuous_update
        self.seed_slider = w.IntSlider(value=self.seed, min=0, max=999, description="seed", continuous_update=cu)
        self.truncate_box = w.Checkbox(value=self.truncation is not None, description="truncate |z_i| at",
                                       indent=False, layout=w.Layout(width="auto"))
        self.truncation_slider = w.FloatSlider(value=self.truncation or 1.0, min=0.1, max=3.0, step=0.1,
                                               continuous_update=cu, disabled=self.truncation is None)
        name = "z[{}]" if self.kind == "axes" else "dir {}"
        self.direction_sliders = [
            w.FloatSlider(value=0.0, min=-self.span, max=self.span, step=0.1, description=name.format(i),
                          continuous_update=cu) for i in range(len(self.amounts))]
        for s in self.direction_sliders:
            s.add_class("ganhelpers-direction")
        self.reset_button = w.Button(description="reset directions", layout=w.Layout(width="auto"))
        self.reset_button.on_click(self._reset)
        controls = [self.seed_slider, w.HBox([self.truncate_box, self.truncation_slider])]
        if self.n_classes:
            self.class_picker = self._class_picker(self.class_names)
            self.class_picker.observe(self._changed, "value")
            controls.append(self.class_picker)
        self.image = self._image_view()
        for widget in [self.seed_slider, self.truncate_box, self.truncation_slider, *self.direction_sliders]:
            widget.observe(self._changed, "value")
        sliders = w.VBox([*self.direction_sliders, self.reset_button])
        return w.VBox([w.HBox([w.VBox(controls), sliders]), self.image])

    def _changed(self, _=None) -> None:
        self.seed = self.seed_slider.value
        self.truncation_slider.disabled = not self.truncate_box.value
        self.truncation = self.truncation_slider.value if self.truncate_box.value else None
        self.amounts = [s.value for s in self.direction_sliders]
        if self.n_classes:
            self.label = self.class_picker.value
        self.refresh()

    def _reset(self, _=None) -> None:
        for s in self.direction_sliders:
            s.value = 0.0

    def figure(self, steps: int = 7):
        """Static view: the samples, then sample 0 walked along each direction (a row per direction)."""
        amounts = torch.linspace(-self.span, self.span, steps)  # (steps,)
        base = self.latents()[:1]  # (1, z_dim)
        shifts = amounts[None, :, None] * self.directions[:, None, :]  # (k, steps, z_dim)
        walks = base + shifts.reshape(-1, self.z_dim)  # (k * steps, z_dim), direction-major
        label = self.label if self.label >= 0 else 0
        walked = generate(self.G, walks, self._labels(len(walks), label))
        fig, axes = plot.new_figure(2, figsize=(11, 4.2))
        plot.show_grid(self.images(), nrow=min(self.n_samples, 4), ax=axes[0], title=f"seed {self.seed}")
        plot.show_grid(walked, nrow=steps, ax=axes[1],
                       title=f"sample 0 along {len(self.directions)} directions (rows), "
                             f"{-self.span:g} to {self.span:g}")
        plot.tight_layout(fig)
        return fig


class InterpolationExplorer(Explorer):
    """Walk from seed A's latents to seed B's: a frame slider (with a play button), slerp or lerp.

    n_pairs samples are interpolated side by side; below them the whole path (a row per sample,
    a column per frame). The status line shows the norm |z| of the current frame: with slerp it
    stays near sqrt(z_dim), where N(0, I) puts almost all its samples; with lerp it dips in the
    middle, into a region G never saw during training.
    Taught in 02_dcgan.
    """

    css_class = "ganhelpers-interpolation-explorer"

    def __init__(self, G, seeds=(0, 1), n_frames: int = 12, n_pairs: int = 4, method: str = "slerp",
                 truncation: float | None = None, label: int = 0, class_names=None, mode: str = "auto"):
        super().__init__(G, mode)
        if method not in ("slerp", "lerp"):
            raise ValueError(f"method={method!r}: use 'slerp' or 'lerp'")
        if n_frames < 2:
            raise ValueError(f"n_frames={n_frames}: an interpolation needs at least 2 frames")
        self.seeds, self.n_frames, self.n_pairs, self.method = list(seeds), n_frames, n_pairs, method
        self.truncation, self.class_names, self.frame = truncation, class_names, 0
        self.label = self._check_label(label, class_names)
        self._finish()

    def path(self, method: str | None = None) -> torch.Tensor:
        """Latents of every frame, (n_frames, n_pairs, z_dim)."""
        z0, z1 = (sample_z(self.n_pairs, self.z_dim, s, self.truncation) for s in self.seeds)  # (n_pairs, z_dim)
        t = torch.linspace(0, 1, self.n_frames)
        return (slerp if (method or self.method) == "slerp" else lerp)(z0, z1, t)

    def path_images(self, method: str | None = None) -> torch.Tensor:
        """Images of the whole path, (n_pairs * n_frames, C, H, W): row i is sample i's walk."""
        z = self.path(method).transpose(0, 1).reshape(-1, self.z_dim)  # (n_pairs * n_frames, z_dim), pair-major
        labels = self._labels(self.n_pairs, self.label)
        labels = None if labels is None else labels.repeat_interleave(self.n_frames)
        return generate(self.G, z, labels)

    def picture(self) -> np.ndarray:
        """The current frame's samples (twice the size), above the whole path with that frame boxed."""
        images = self.path_images()  # (n_pairs * n_frames, C, H, W)
        frame = images.view(self.n_pairs, self.n_frames, *images.shape[1:])[:, self.frame]  # (n_pairs, C, H, W)
        strip = plot.image_grid(images, nrow=self.n_frames)  # tiles of width w behind 2-pixel padding
        w, x = images.shape[-1], self.frame * (images.shape[-1] + 2)  # the column's box spans [x, x + w + 4)
        strip[:, x:x + 2] = strip[:, x + w + 2:x + w + 4] = HIGHLIGHT
        strip[:2, x:x + w + 4] = strip[-2:, x:x + w + 4] = HIGHLIGHT
        big = plot.image_grid(frame, nrow=self.n_pairs).repeat(2, axis=0).repeat(2, axis=1)
        return stacked([big, strip], gap=8)

    def frame_norm(self) -> float:
        """Mean |z| over the samples at the current frame."""
        return float(self.path()[self.frame].norm(dim=-1).mean())

    def _build(self):
        import ipywidgets as w

        self.seed_a = w.IntText(value=self.seeds[0], description="seed A", layout=w.Layout(width="160px"))
        self.seed_b = w.IntText(value=self.seeds[1], description="seed B", layout=w.Layout(width="160px"))
        self.method_buttons = w.ToggleButtons(options=["slerp", "lerp"], value=self.method)
        self.frame_slider = w.IntSlider(value=0, min=0, max=self.n_frames - 1, description="frame")
        self.frame_slider.add_class("ganhelpers-frame")
        self.play = w.Play(value=0, min=0, max=self.n_frames - 1, interval=300, description="play")
        w.jslink((self.play, "value"), (self.frame_slider, "value"))
        self.status = w.HTML()
        controls = [self.seed_a, self.seed_b, self.method_buttons]
        if self.n_classes:
            self.class_picker = self._class_picker(self.class_names)
            controls.append(self.class_picker)
        for widget in [*controls, self.frame_slider]:
            widget.observe(self._changed, "value")
        self.image = self._image_view()
        return w.VBox([w.HBox(controls), w.HBox([self.play, self.frame_slider, self.status]), self.image])

    def _changed(self, _=None) -> None:
        self.seeds = [self.seed_a.value, self.seed_b.value]
        self.method, self.frame = self.method_buttons.value, self.frame_slider.value
        if self.n_classes:
            self.label = self.class_picker.value
        self.refresh()

    def refresh(self, *_) -> None:
        super().refresh()
        if self.panel is not None:
            self.status.value = (f"<span style='font-family: monospace'>t = {self.frame / (self.n_frames - 1):.2f}"
                                 f" · mean |z| {self.frame_norm():.1f} (typical: sqrt(z_dim) = "
                                 f"{math.sqrt(self.z_dim):.1f})</span>")

    def figure(self):
        """Static view: the whole path with slerp (left) and with lerp (right)."""
        fig, axes = plot.new_figure(2, figsize=(12, 0.8 + 6 * self.n_pairs / self.n_frames))
        for ax, method in zip(axes, ("slerp", "lerp")):
            plot.show_grid(self.path_images(method), nrow=self.n_frames, ax=ax,
                           title=f"{method}: seed {self.seeds[0]} to seed {self.seeds[1]}")
        plot.tight_layout(fig)
        return fig


class PairExplorer(Explorer):
    """Image-to-image (Pix2Pix) viewer: input | G(input) | target for `n_rows` pairs from `index` on.

    G: any module mapping conditions (B, C_in, H, W) in [-1, 1] to outputs (B, C_out, H, W) in [-1, 1];
    it is run in eval mode without gradients. pairs: a tuple (conditions, targets) of (N, C, H, W)
    tensors; or a set with attributes `conditions` and `images` (the targets), like Pix2Pix's PairSet;
    or a dataset-like object where `pairs[i]` gives (condition, target, ...) with (C, H, W) tensors.
    uint8 images in [0, 255] are converted with `to_float`.
    Taught in 08_pix2pix.
    """

    css_class = "ganhelpers-pair-explorer"

    def __init__(self, G, pairs, index: int = 0, n_rows: int = 3, titles=("input", "output", "target"),
                 mode: str = "auto"):
        super().__init__(G, mode, latent=False)
        self.pairs = _as_pairs(pairs)
        self.n = len(self.pairs[0]) if isinstance(self.pairs, tuple) else len(self.pairs)
        if self.n == 0:
            raise ValueError("no pairs to show: the dataset is empty")
        self.index, self.n_rows, self.titles = index % self.n, min(n_rows, self.n), tuple(titles)
        self._finish()

    def rows(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(conditions, outputs, targets) of the pairs on view, each (n_rows, C, H, W) in [-1, 1]."""
        picked = [_get_pair(self.pairs, (self.index + i) % self.n) for i in range(self.n_rows)]
        conditions = torch.stack([c for c, _ in picked])  # (n_rows, C_in, H, W)
        targets = torch.stack([t for _, t in picked])
        return conditions, translate(self.G, conditions), targets  # outputs: G in eval mode, on the CPU

    def picture(self) -> np.ndarray:
        return side_by_side([plot.image_grid(x, nrow=1) for x in self.rows()], gap=8)

    def _build(self):
        import ipywidgets as w

        self.index_slider = w.IntSlider(value=self.index, min=0, max=self.n - 1, description="pair")
        self.index_slider.observe(self._changed, "value")
        self.header = w.HTML(" | ".join(self.titles))
        self.image = self._image_view()
        return w.VBox([self.index_slider, self.header, self.image])

    def _changed(self, _=None) -> None:
        self.index = self.index_slider.value
        self.refresh()

    def figure(self):
        """Static view: a row per pair, columns input, output, target."""
        rows = self.rows()
        fig, axes = plot.new_figure(3, figsize=(7.5, 0.6 + 2.3 * self.n_rows))
        for ax, images, title in zip(axes, rows, self.titles):
            plot.show_grid(images, nrow=1, ax=ax, title=title)
        plot.tight_layout(fig)
        return fig


def _as_pairs(pairs):
    """(conditions, targets) tensors for a tuple or a set with `conditions` and `images` (Pix2Pix's
    PairSet); any other dataset-like object is returned as it is."""
    if hasattr(pairs, "conditions") and hasattr(pairs, "images"):
        pairs = (pairs.conditions, pairs.images)
    if isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(torch.is_tensor(p) for p in pairs):
        if len(pairs[0]) != len(pairs[1]):
            raise ValueError(f"{len(pairs[0])} conditions but {len(pairs[1])} targets")
        return tuple(pairs)
    if not (hasattr(pairs, "__len__") and hasattr(pairs, "__getitem__")):
        raise TypeError("pairs must be (conditions, targets) tensors, a set with .conditions and .images, or a "
                        f"dataset where pairs[i] -> (condition, target, ...); got {type(pairs).__name__}")
    return pairs


def _get_pair(pairs, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    item = (pairs[0][i], pairs[1][i]) if isinstance(pairs, tuple) and all(map(torch.is_tensor, pairs)) else pairs[i]
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise TypeError(f"pairs[{i}] must be (condition, target, ...), got {type(item).__name__}")
    out = []
    for x in item[:2]:
        x = torch.as_tensor(x)
        x = to_float(x) if x.dtype == torch.uint8 else x.float()
        if x.dim() != 3:
            raise ValueError(f"pairs[{i}] holds an image of shape {tuple(x.shape)}: expected (C, H, W)")
        out.append(x)
    return out[0], out[1]

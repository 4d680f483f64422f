"""Watch a run learn: its fixed-noise sample grids as a notebook animation or a GIF file.

The command line (`python -m ganhelpers train ... --out RUN`) and `viz.savers.SampleSaver` write the
generator's output for one fixed batch of noise to RUN/samples/step_000500.png, step_001000.png, ...
Played in order, those grids show the same 64 noise vectors turning into images.

    from ganhelpers.viz.animation import save_gif, show_training_animation
    show_training_animation("runs/dcgan-mnist")   # a player in the notebook (matplotlib's jshtml)
    save_gif("runs/dcgan-mnist")                  # runs/dcgan-mnist/training.gif (Pillow)

`run` may be the run folder, its samples/ folder, or a list of PNG paths.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

STEP_FILE = re.compile(r"step_(\d+)\.png$")


def sample_frames(run) -> list[tuple[int | None, Path]]:
    """(step, path) of every sample grid of a run, in training order.

    run: a run folder (with samples/), a samples folder, or a list of PNG paths. Steps come from the
    file names step_NNNNNN.png (None for other names, which then sort by name after the numbered ones).
    """
    if isinstance(run, (list, tuple)):
        paths = [Path(p) for p in run]
    else:
        run = Path(run)
        folder = run / "samples" if (run / "samples").is_dir() else run
        if not folder.is_dir():
            raise FileNotFoundError(f"{run} is not a folder: pass a run folder (holding samples/) or a list of PNGs")
        paths = list(folder.glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"no sample grids (*.png) in {run}: train with `python -m ganhelpers train MODEL "
                                "--out RUN` or add `SampleSaver(out_dir, every=N)` to the trainer's callbacks")
    frames = []
    for path in paths:
        match = STEP_FILE.search(path.name)
        frames.append((int(match.group(1)) if match else None, path))
    return sorted(frames, key=lambda f: (f[0] is None, f[0] or 0, f[1].name))


def load_frames(run) -> list[tuple[int | None, np.ndarray]]:
    """(step, picture) for every sample grid; pictures are (H, W, 3) uint8, all the size of the first."""
    from PIL import Image

    frames, size = [], None
    for step, path in sample_frames(run):
        with Image.open(path) as image:
            image = image.convert("RGB")
            size = size or image.size
            if image.size != size:  # a grid saved with another nrow: fit it to the first
                image = image.resize(size, Image.NEAREST)
            frames.append((step, np.asarray(image)))
    return frames


def _subsample(frames: list, max_frames: int | None) -> list:
    """At most max_frames of them, evenly spaced, first and last included (None: all)."""
    if max_frames is None or len(frames) <= max_frames:
        return frames
    keep = np.unique(np.linspace(0, len(frames) - 1, max_frames).round().astype(int))
    return [frames[i] for i in keep]


def training_animation(run, interval: int = 250, scale: int = 2, title: str = "fixed-noise samples",
                       max_frames: int | None = 60):
    """A matplotlib `FuncAnimation` of the run's sample grids, one frame per file.

    interval: milliseconds per frame. scale: screen pixels per grid pixel (a whole number, so every
    generated pixel stays a crisp square). max_frames: keep at most this many grids, evenly spaced
    (each embedded frame costs tens of kB in the notebook). The figure is closed in pyplot (it is shown
    only through the animation). Use `show_training_animation` in a notebook, or `anim.save("run.mp4")`
    where ffmpeg is installed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    if scale < 1 or int(scale) != scale:
        raise ValueError(f"scale={scale}: use a whole number >= 1")
    frames = _subsample(load_frames(run), max_frames)
    h, w = frames[0][1].shape[:2]
    dpi, band = 100, 24  # pixels per inch; pixels of title above the grid
    fig = plt.figure(figsize=(scale * w / dpi, (scale * h + band) / dpi), dpi=dpi)
    plt.close(fig)
    ax = fig.add_axes((0, 0, 1, scale * h / (scale * h + band)))  # the grid fills the figure's width exactly
    shown = ax.imshow(frames[0][1], interpolation="nearest")
    ax.set_axis_off()
    label = fig.text(0.5, 1 - 0.5 * band / (scale * h + band), "", ha="center", va="center")

    def draw(i):
        step, picture = frames[i]
        shown.set_data(picture)
        label.set_text(f"{title} · step {step}" if step is not None else title)
        return shown, label

    draw(0)
    return FuncAnimation(fig, draw, frames=len(frames), interval=interval, blit=False, repeat=True)


def animation_html(run, interval: int = 250, scale: int = 2, title: str = "fixed-noise samples",
                   max_frames: int | None = 60, frame_format: str = "jpeg") -> str:
    """The animation as a self-contained HTML player (frames inlined, play/step buttons).

    Works in any notebook front end and in exported HTML, with no widgets and no ffmpeg. JPEG frames
    are about a third of the size of PNG ones for photo-like samples; use "png" for exact pixels.
    """
    import matplotlib

    anim = training_animation(run, interval=interval, scale=scale, title=title, max_frames=max_frames)
    with matplotlib.rc_context({"animation.frame_format": frame_format}):
        return anim.to_jshtml(default_mode="once")


def show_training_animation(run, interval: int = 250, scale: int = 2, title: str = "fixed-noise samples",
                            max_frames: int | None = 60):
    """Display `animation_html(run)` in IPython/Jupyter; elsewhere return the `FuncAnimation`.

    Taught in 02_dcgan.
    """
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None
    kwargs = dict(interval=interval, scale=scale, title=title, max_frames=max_frames)
    if get_ipython is None or get_ipython() is None:
        return training_animation(run, **kwargs)
    display(HTML(animation_html(run, **kwargs)))
    return None


def save_gif(run, path=None, duration: int = 250, hold_last: int = 1500, scale: int = 2, caption: bool = True,
             max_frames: int | None = 200) -> Path:
    """Write the run's sample grids as an animated GIF (Pillow); returns its path.

    path: defaults to RUN/training.gif (for a list of PNGs: the folder of the first one).
    duration: milliseconds per frame; the last frame stays `hold_last` ms. scale: whole-number
    enlargement (nearest neighbour: pixels stay crisp). caption: a white band with "step N" on top.
    max_frames: keep at most this many frames, evenly spaced, first and last included (None: all).
    Taught in 02_dcgan.
    """
    from PIL import Image, ImageDraw

    if scale < 1 or int(scale) != scale:
        raise ValueError(f"scale={scale}: use a whole number >= 1")
    frames = _subsample(load_frames(run), max_frames)
    if path is None:
        if isinstance(run, (list, tuple)):
            path = Path(run[0]).parent / "training.gif"
        else:
            run = Path(run)
            path = (run.parent if run.name == "samples" else run) / "training.gif"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = []
    for step, picture in frames:
        picture = np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)  # (H * scale, W * scale, 3)
        image = Image.fromarray(picture)
        if caption:
            band = Image.new("RGB", (image.width, 16), "white")
            ImageDraw.Draw(band).text((4, 2), f"step {step}" if step is not None else "", fill="black")
            framed = Image.new("RGB", (image.width, image.height + 16), "white")
            framed.paste(band, (0, 0))
            framed.paste(image, (0, 16))
            image = framed
        images.append(image)
    durations = [duration] * (len(images) - 1) + [max(duration, hold_last)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
    return path

"""Training animations from a run's sample grids: frames in step order, a GIF and a notebook animation."""
import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ganhelpers.viz import animation, plot  # noqa: E402


def make_run(tmp_path, steps=(10, 2, 100, 30)):
    """A run folder as the CLI leaves it: samples/step_NNNNNN.png, one grey level per step."""
    for step in steps:
        images = torch.full((4, 1, 8, 8), -1 + step / 50)  # brighter with every step
        plot.save_grid(images, tmp_path / "samples" / f"step_{step:06d}.png", nrow=2)
    return tmp_path


def test_frames_come_in_step_order(tmp_path):
    run = make_run(tmp_path)
    (run / "samples" / "notes.png").write_bytes((run / "samples" / "step_000002.png").read_bytes())
    frames = animation.sample_frames(run)
    assert [s for s, _ in frames] == [2, 10, 30, 100, None]  # numeric order, unnumbered last
    assert animation.sample_frames(run / "samples") == frames  # the samples folder itself works too
    loaded = animation.load_frames([p for _, p in frames[:2]])
    assert [s for s, _ in loaded] == [2, 10] and loaded[0][1].shape == (22, 22, 3)
    assert loaded[0][1][5, 5, 0] < loaded[1][1][5, 5, 0]  # step 10's grid is brighter


def test_missing_samples_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="SampleSaver"):
        animation.sample_frames(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        animation.sample_frames(tmp_path / "nowhere")


def test_gif_has_a_frame_per_grid_and_holds_the_last(tmp_path):
    run = make_run(tmp_path)
    path = animation.save_gif(run, duration=100, hold_last=900, scale=3)
    assert path == run / "training.gif"
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size == (22 * 3, 22 * 3 + 16)  # + the caption band
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert durations == [100, 100, 100, 900] and gif.info.get("loop") == 0
    small = animation.save_gif(run, tmp_path / "out" / "few.gif", max_frames=2, caption=False, scale=1)
    with Image.open(small) as gif:
        assert gif.n_frames == 2 and gif.size == (22, 22)
    with pytest.raises(ValueError, match="whole number"):
        animation.save_gif(run, scale=1.5)


def test_notebook_animation(tmp_path):
    run = make_run(tmp_path, steps=(1, 2, 3))
    anim = animation.training_animation(run, interval=50)
    assert len(list(anim.new_frame_seq())) == 3
    html = animation.animation_html(run)
    assert html.count("data:image/jpeg;base64") == 3 and "<script" in html
    assert animation.animation_html(run, frame_format="png", max_frames=2).count("data:image/png;base64") == 2
    assert tuple(anim._fig.get_size_inches() * 100) == pytest.approx((2 * 22, 2 * 22 + 24))  # 2 px per pixel
    shown = animation.show_training_animation(run)  # no IPython here: the animation comes back
    assert isinstance(shown, matplotlib.animation.FuncAnimation)
    for a in (anim, shown):
        a._draw_was_started = True  # inspected, never played: spare us matplotlib's warning about that

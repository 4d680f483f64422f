"""The explorers: latent directions, interpolations and image-to-image pairs, as widgets or static figures."""
import base64
import sys
import types

import matplotlib

matplotlib.use("Agg")  # no display in tests, whatever the environment says

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from ganhelpers.data import to_float  # noqa: E402
from ganhelpers.models.dcgan import DCGANGenerator  # noqa: E402
from ganhelpers.nn.conventions import generate  # noqa: E402
from ganhelpers.viz import explore  # noqa: E402
from ganhelpers.viz.explore import InterpolationExplorer, LatentExplorer, PairExplorer  # noqa: E402
from ganhelpers.viz.latent import sample_z  # noqa: E402

ipywidgets = pytest.importorskip("ipywidgets")


def small_G(z_dim=8):
    torch.manual_seed(0)
    return DCGANGenerator(z_dim, (1, 28, 28), base=4)


class ToyConditional(nn.Module):
    def __init__(self, z_dim=8, n_classes=3):
        super().__init__()
        self.z_dim, self.n_classes, self.img_shape = z_dim, n_classes, (1, 28, 28)
        torch.manual_seed(0)
        self.embed = nn.Embedding(n_classes, z_dim)
        self.net = DCGANGenerator(z_dim, (1, 28, 28), base=4)

    def forward(self, z, labels=None):
        return self.net(z + 3 * self.embed(labels))


def png(widget) -> bytes:
    data = bytes(widget.value)
    assert data.startswith(b"\x89PNG")
    return data


# ---- latent directions ---------------------------------------------------------------------------

def test_latent_explorer_sliders_move_along_the_axes():
    G = small_G()
    ex = LatentExplorer(G, n_directions=3, n_samples=4, mode="widgets")
    assert ex.active_mode == "widgets" and isinstance(ex.panel, ipywidgets.VBox)
    assert "ganhelpers-latent-explorer" in ex.panel._dom_classes
    assert len(ex.direction_sliders) == 3 and ex.updates == 1
    start = png(ex.image)
    base = sample_z(4, 8, seed=0)
    ex.direction_sliders[2].value = 1.5
    assert png(ex.image) != start
    shift = torch.zeros(8)
    shift[2] = 1.5  # axis directions: slider k moves entry k of every z
    assert torch.allclose(ex.latents(), base + shift)
    assert torch.allclose(ex.images(), generate(G, base + shift))
    ex.reset_button.click()
    assert [s.value for s in ex.direction_sliders] == [0.0] * 3
    assert png(ex.image) == start  # deterministic: back where we started


def test_latent_explorer_seed_and_truncation():
    ex = LatentExplorer(small_G(), n_samples=4, mode="widgets")
    assert ex.truncation is None and ex.truncation_slider.disabled
    first = png(ex.image)
    ex.seed_slider.value = 5
    assert png(ex.image) != first and torch.equal(ex.latents(), sample_z(4, 8, seed=5))
    ex.truncate_box.value = True
    assert not ex.truncation_slider.disabled and ex.truncation == 1.0
    ex.truncation_slider.value = 0.5
    assert ex.truncation == 0.5 and (ex.latents().abs() <= 0.5).all()
    ex.truncate_box.value = False
    assert ex.truncation is None and ex.truncation_slider.disabled


def test_latent_explorer_random_directions():
    ex = LatentExplorer(small_G(), n_directions=2, directions="random", mode="widgets")
    assert ex.direction_sliders[0].description == "dir 0"
    base = ex.latents()
    ex.direction_sliders[0].value = 2.0
    assert torch.allclose((ex.latents() - base)[0].norm(), torch.tensor(2.0), atol=1e-5)  # unit directions


def test_class_picker_for_a_conditional_generator():
    G = ToyConditional()
    ex = LatentExplorer(G, n_samples=6, class_names=["cat", "dog", "cow"], mode="widgets")
    assert [o[0] for o in ex.class_picker.options] == ["one class per sample", "cat", "dog", "cow"]
    cat = png(ex.image)
    ex.class_picker.value = 2
    assert png(ex.image) != cat
    assert torch.allclose(ex.images(), generate(G, ex.latents(), torch.full((6,), 2)))
    ex.class_picker.value = -1  # mixed: sample i gets class i % 3
    assert torch.allclose(ex.images(), generate(G, ex.latents(), torch.tensor([0, 1, 2, 0, 1, 2])))
    with pytest.raises(ValueError, match="class names"):
        LatentExplorer(G, class_names=["a"], mode="widgets")
    with pytest.raises(ValueError, match="label=3"):
        LatentExplorer(G, label=3, mode="static")
    interp = InterpolationExplorer(G, class_names=["cat", "dog", "cow"], mode="widgets")
    before = png(interp.image)
    interp.class_picker.value = 1
    assert png(interp.image) != before


def test_static_mode_and_auto_outside_a_kernel(monkeypatch):
    ex = LatentExplorer(small_G(), n_directions=2)  # auto, and pytest is no kernel
    assert ex.active_mode == "static" and ex.panel is None
    fig = ex.figure()
    assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("sample 0 along 2 directions")
    assert ex.show() is not None  # plain Python: the figure comes back for savefig
    shown = []
    monkeypatch.setitem(sys.modules, "IPython.display", types.SimpleNamespace(display=lambda *a, **k: shown.append(a)))
    ex._ipython_display_()
    assert isinstance(shown[0][0], matplotlib.figure.Figure)
    monkeypatch.setattr(explore, "in_kernel", lambda: True)
    assert LatentExplorer(small_G()).active_mode == "widgets"


def test_widget_display_carries_a_png_fallback(monkeypatch):
    shown = []
    monkeypatch.setitem(sys.modules, "IPython.display",
                        types.SimpleNamespace(display=lambda *a, **k: shown.append((a, k))))
    ex = LatentExplorer(small_G(), mode="widgets")
    ex._ipython_display_()
    (bundle,), kwargs = shown[0]
    assert kwargs == {"raw": True}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.panel.model_id
    assert base64.b64decode(bundle["image/png"]) == bytes(ex.image.value)
    assert "VBox(" not in bundle["text/plain"] and "LatentExplorer" in bundle["text/plain"]


def test_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    monkeypatch.setattr(explore, "in_kernel", lambda: True)
    assert LatentExplorer(small_G()).active_mode == "static"
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        LatentExplorer(small_G(), mode="widgets")


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        LatentExplorer(small_G(), mode="live")
    with pytest.raises(ValueError, match="z_dim"):
        LatentExplorer(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="slerp"):
        InterpolationExplorer(small_G(), method="cubic")
    with pytest.raises(ValueError, match="2 frames"):
        InterpolationExplorer(small_G(), n_frames=1)


# ---- interpolation -------------------------------------------------------------------------------

def test_interpolation_path_runs_from_seed_a_to_seed_b():
    G = small_G()
    ex = InterpolationExplorer(G, seeds=(3, 4), n_frames=5, n_pairs=2, mode="widgets")
    path = ex.path()
    assert path.shape == (5, 2, 8)
    assert torch.allclose(path[0], sample_z(2, 8, 3)) and torch.allclose(path[-1], sample_z(2, 8, 4), atol=1e-6)
    images = ex.path_images()  # row i is pair i's walk
    assert torch.allclose(images[4], generate(G, path[-1])[0], atol=1e-5)
    assert torch.allclose(images[5], generate(G, path[0])[1], atol=1e-5)
    first = png(ex.image)
    ex.frame_slider.value = 2
    assert png(ex.image) != first and "t = 0.50" in ex.status.value
    slerp_norm = ex.frame_norm()
    ex.method_buttons.value = "lerp"
    assert ex.frame_norm() < 0.85 * slerp_norm  # the straight line dips inside the sphere
    ex.seed_b.value = 9
    assert torch.allclose(ex.path()[-1], sample_z(2, 8, 9), atol=1e-6)
    assert len(InterpolationExplorer(G, mode="static").figure().axes) == 2


# ---- image-to-image pairs ------------------------------------------------------------------------

def test_pair_explorer_shows_input_output_target():
    conditions = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8)
    targets = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    G = nn.Conv2d(1, 3, 1)
    ex = PairExplorer(G, (conditions, targets), n_rows=2, mode="widgets")
    c, out, t = ex.rows()
    assert torch.equal(c, to_float(conditions[:2])) and torch.equal(t, to_float(targets[:2]))
    with torch.no_grad():
        assert torch.allclose(out, G(c))
    first = png(ex.image)
    ex.index_slider.value = 4  # the view wraps: pairs 4 and 0
    assert png(ex.image) != first
    assert torch.equal(ex.rows()[0], to_float(conditions[[4, 0]]))
    assert len(PairExplorer(G, (conditions, targets), mode="static").figure().axes) == 3


def test_pair_explorer_accepts_a_pair_set_and_a_dataset():
    conditions = torch.rand(3, 1, 8, 8) * 2 - 1
    targets = torch.rand(3, 1, 8, 8) * 2 - 1
    pair_set = types.SimpleNamespace(conditions=conditions, images=targets)  # like data.pairs.PairSet
    ex = PairExplorer(nn.Identity(), pair_set, mode="widgets")
    assert torch.equal(ex.rows()[1], conditions)  # identity G: output = input
    dataset = [(conditions[i], targets[i], i) for i in range(3)]
    assert torch.equal(PairExplorer(nn.Identity(), dataset, mode="static").rows()[2], targets)
    with pytest.raises(ValueError, match="3 conditions but 2 targets"):
        PairExplorer(nn.Identity(), (conditions, targets[:2]))
    with pytest.raises(TypeError, match="pairs must be"):
        PairExplorer(nn.Identity(), 42)
    with pytest.raises(ValueError, match="empty"):
        PairExplorer(nn.Identity(), [])

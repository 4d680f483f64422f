"""The model registry: every model builds for MNIST- and CIFAR-sized images and trains one step."""
import pytest
import torch

from ganhelpers import pix2pix
from ganhelpers.data import ImageSet
from ganhelpers.models import MODELS, get_model
from ganhelpers.train import TrainConfig, Trainer
from ganhelpers.utils import count_params, seed_everything

SHAPES = [(1, 28, 28), (3, 32, 32)]


def tiny_data(shape, n=16):
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g),
                    torch.arange(n) % 10, [str(k) for k in range(10)], "tiny")


def test_the_course_models_are_registered():
    assert {"gan", "dcgan", "dcgan-improved", "wgan-gp"} <= set(MODELS)
    for name in ("gan", "dcgan", "dcgan-improved", "wgan-gp"):  # MNIST and CIFAR-10 sizes, both
        assert MODELS[name].check((1, 28, 28)) is None and MODELS[name].check((3, 32, 32)) is None
    for name, spec in MODELS.items():
        assert spec.name == name and spec.about


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_builds_and_trains_one_step(name, shape):
    spec = get_model(name)
    if spec.check(shape) is not None:
        assert shape[1] not in spec.sizes  # refused only for a size it does not list
        pytest.skip(spec.check(shape))
    seed_everything(0)
    G, D = spec.build(shape, 10, 16)
    paired = name in pix2pix.MODEL_NAMES  # image-to-image: no z, batches of (target, condition) pairs
    assert G.z_dim == (0 if paired else 16) and count_params(G) > 0 and count_params(D) > 0
    config = TrainConfig(**{**spec.defaults, "steps": 1, "batch_size": 4, "log_every": 1, "progress": False,
                            "device": "cpu"})
    data = pix2pix.PairSampler(pix2pix.make_pairs(tiny_data(shape)), 4) if paired else tiny_data(shape)
    trainer = Trainer(G, D, *spec.steps(), data, config)
    if paired:
        pix2pix.use_fixed_pairs(trainer, pix2pix.make_pairs(tiny_data(shape)))
    before = [p.detach().clone() for p in G.parameters()]
    history = trainer.fit()
    assert history["step"] == [1]
    assert all(torch.isfinite(torch.tensor(history[k])).all() for k in ("loss_D", "loss_G"))
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))  # G was updated
    samples = trainer.sample_fixed()
    assert samples.shape == (16 if paired else config.n_fixed, *shape) and samples.abs().max() <= 1


def test_dcgan_improved_has_its_tricks():
    spec = get_model("dcgan-improved")
    G, D = spec.build((1, 28, 28), 10, 100)
    assert spec.defaults["betas"][0] == 0.5 and spec.defaults["n_critic"] == 2
    assert spec.steps.keywords == {"smooth": 0.1, "instance_noise": 0.1}
    config = TrainConfig(**{**spec.defaults, "steps": 4, "batch_size": 4, "log_every": 1, "progress": False,
                            "device": "cpu"})
    history = Trainer(G, D, *spec.steps(), tiny_data((1, 28, 28)), config).fit()
    assert history["noise_std"][0] > 0  # annealed instance noise is on
    assert history["noise_std"] == sorted(history["noise_std"], reverse=True)


def test_unknown_model_and_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="dcgan-improved"):  # the message lists the choices
        get_model("stylegan")
    assert "2-D points" in get_model("dcgan-improved").check((2,))
    assert "64x64" in get_model("dcgan-improved").check((3, 64, 64))

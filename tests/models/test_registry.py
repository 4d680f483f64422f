"""The model registry (ganhelpers.models): every family's SPECS are in it, and every model builds for MNIST- and
CIFAR-sized images and trains one step through its task's sampler."""
import pytest
import torch

from ganhelpers.core import FixedInputs, TrainConfig, Trainer, seed_everything
from ganhelpers.data import make_pairs, to_float
from ganhelpers.models import MODELS, conditional, dcgan, get_model, mlp, pix2pix, sagan
from ganhelpers.models.spec import ModelSpec
from ganhelpers.models.tasks import NOISE, PAIRED
from ganhelpers.nn.conventions import count_params
from tests.helpers import tiny_data

SHAPES = [(1, 28, 28), (3, 32, 32)]


def test_the_course_models_are_registered():
    assert {"gan", "dcgan", "dcgan-improved", "wgan-gp"} <= set(MODELS)
    for name in ("gan", "dcgan", "dcgan-improved", "wgan-gp"):  # MNIST and CIFAR-10 sizes, both
        assert MODELS[name].check((1, 28, 28), 10) is None and MODELS[name].check((3, 32, 32), 10) is None
    for name, spec in MODELS.items():
        assert isinstance(spec, ModelSpec) and spec.name == name and spec.about
        assert spec.task in (NOISE, PAIRED) and (spec.z_dim == 0) == (spec.task is PAIRED)


def test_the_registry_is_the_families_specs():
    names = [spec.name for family in (mlp, dcgan, conditional, pix2pix, sagan) for spec in family.SPECS]
    assert len(names) == len(set(names)) and set(names) == set(MODELS)  # each model declared once, none lost
    assert all(MODELS[spec.name] is spec for family in (mlp, dcgan, sagan) for spec in family.SPECS)


def test_unknown_model_is_refused_with_the_choices():
    assert get_model("dcgan") is MODELS["dcgan"]
    with pytest.raises(ValueError, match="unknown model 'stylegan'.*dcgan-improved"):  # the message lists them
        get_model("stylegan")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_builds_and_trains_one_step(name, shape):
    spec = get_model(name)
    if spec.check(shape, 10) is not None:
        assert shape[1] not in spec.sizes  # refused only for a size it does not list
        pytest.skip(spec.check(shape, 10))
    seed_everything(0)
    G, D = spec.build(shape, 10, 16)
    paired = spec.task is PAIRED  # image-to-image: no z, batches of (target, condition) pairs
    assert G.z_dim == (0 if paired else 16) and count_params(G) > 0 and count_params(D) > 0
    config = TrainConfig(**{**spec.defaults, "steps": 1, "batch_size": 4, "log_every": 1, "progress": False,
                            "device": "cpu"})
    data = spec.task.sampler(tiny_data(16, shape), 4, "cpu", 0)  # what the command line hands the trainer
    callbacks = [FixedInputs(to_float(make_pairs(tiny_data(16, shape)).conditions))] if paired else []
    trainer = Trainer(G, D, *spec.steps(), data, config, callbacks=callbacks)
    before = [p.detach().clone() for p in G.parameters()]
    history = trainer.fit()
    assert history["step"] == [1]
    assert all(torch.isfinite(torch.tensor(history[k])).all() for k in ("loss_D", "loss_G"))
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))  # G was updated
    samples = trainer.sample_fixed()
    assert samples.shape == (16 if paired else config.n_fixed, *shape) and samples.abs().max() <= 1

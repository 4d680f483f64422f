"""ModelSpec: what a registry entry declares, its validated defaults and its check of a dataset's shape and classes."""
import dataclasses

import pytest

from ganhelpers.models.dcgan import build_dcgan
from ganhelpers.models.spec import ModelSpec
from ganhelpers.models.steps import bce_steps
from ganhelpers.models.tasks import NOISE


def spec(**kwargs):
    return ModelSpec("toy", "a toy", build_dcgan, bce_steps, **kwargs)


def test_defaults_of_a_spec():
    toy = spec()
    assert (toy.defaults, toy.sizes, toy.conditional, toy.critic, toy.z_dim, toy.task) == ({}, (28, 32), False,
                                                                                           False, 100, NOISE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.z_dim = 8  # registry entries are shared: never changed in place


def test_bad_defaults_are_refused_when_the_spec_is_made():
    assert spec(defaults={"n_critic": 5, "betas": (0.0, 0.9)}).defaults["n_critic"] == 5
    with pytest.raises(ValueError, match="model 'toy': bad defaults.*n_critic"):
        spec(defaults={"n_critic": 0})
    with pytest.raises(ValueError, match="model 'toy': bad defaults.*stepz"):
        spec(defaults={"stepz": 10})  # not a TrainConfig field


def test_check_says_why_a_dataset_does_not_fit():
    toy, conditional = spec(), spec(conditional=True, sizes=(32,))
    assert toy.check((1, 28, 28), 10) is None and toy.check((3, 32, 32), 0) is None
    assert "trains on images but this dataset holds 2-D points" in toy.check((2,), 8)
    assert "built for 28 or 32-pixel images, not 64x64" in toy.check((3, 64, 64), 10)
    assert "not 28x32" in toy.check((3, 28, 32), 10)  # square images only
    assert conditional.check((3, 32, 32), 10) is None
    assert "built for 32-pixel images, not 28x28" in conditional.check((1, 28, 28), 10)
    assert "conditional: it needs a dataset with classes" in conditional.check((3, 32, 32), 0)

"""The models: one file per family (its networks, its steps and its registry entries, `SPECS`), and the
registry the command line, the search and the tests read.

    spec = MODELS["dcgan"]
    G, D = spec.build((1, 28, 28), 10, spec.z_dim)
    d_step, g_step = spec.steps()

Adding a model is one family file (or an entry in an existing one) plus one line below.
"""
from __future__ import annotations

from . import conditional, dcgan, mlp, pix2pix, sagan
from .spec import ModelSpec

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    *mlp.SPECS, *dcgan.SPECS, *conditional.SPECS, *pix2pix.SPECS, *sagan.SPECS)}


def get_model(name: str) -> ModelSpec:
    """The spec of a registered model; an unknown name is an error listing the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None


__all__ = ["MODELS", "ModelSpec", "get_model"]

"""What a search may vary, and what one set of values means for a training run.

A space maps names to values: a list of choices, or `LogUniform(low, high)` / `Uniform(low, high)`.
Names: `TrainConfig` fields, "lr" (sets lr_G and lr_D), "beta1", "beta2", "z_dim", and the keyword
arguments of the model's build and steps functions ("smooth" for dcgan, "gp_weight" for wgan-gp, ...).
`check_space` refuses a bad space before anything runs; `suggest` asks an Optuna trial for values;
`resolve` turns values into the settings of one run (the model's defaults, overridden).
"""
from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, fields

from ..core.config import TrainConfig
from ..models.spec import ModelSpec

FIXED = {"steps", "minutes", "out_dir", "resume", "device", "progress", "log_every", "ckpt_every", "n_fixed"}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - FIXED


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly from [low, high]; on a log scale with log=True (see `LogUniform`)."""
    low: float
    high: float
    log: bool = False


def LogUniform(low: float, high: float) -> Uniform:
    """A number whose logarithm is uniform in [log low, log high]: learning rates."""
    return Uniform(low, high, log=True)


def default_space(spec: ModelSpec) -> dict:
    """The command line's space: both learning rates, Adam's beta1, n_critic (up to 5 for a critic) and the batch size."""
    return {"lr_G": LogUniform(5e-5, 2e-3), "lr_D": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5, 0.9],
            "n_critic": [1, 2, 5] if spec.critic else [1, 2], "batch_size": [32, 64, 128]}


def describe(space: dict) -> dict:
    """The space as JSON (what a study stores, so that a worker with another space is refused)."""
    return {k: asdict(v) if isinstance(v, Uniform) else {"choices": list(v)} for k, v in space.items()}


def _keys(spec: ModelSpec) -> tuple[set, set]:
    build = set(inspect.signature(spec.build).parameters) - {"img_shape", "n_classes", "z_dim"}
    return build, set(inspect.signature(spec.steps).parameters)


def check_space(spec: ModelSpec, space: dict, seed: int = 0) -> None:
    """A ValueError naming the problem, for an empty space, an unknown or fixed name, a bad range or a value
    no `TrainConfig` accepts."""
    if not space:
        raise ValueError("the search space is empty: give at least one parameter and its values")
    build_keys, step_keys = _keys(spec)
    known = TRAIN_KEYS | {"lr", "beta1", "beta2", "z_dim"} | build_keys | step_keys
    for key, values in space.items():
        if key in FIXED:
            raise ValueError(f"{key!r} is set by the search itself (budget, folders, logging): not searchable")
        if key not in known:
            raise ValueError(f"unknown parameter {key!r} for {spec.name}: choose from " + ", ".join(sorted(known)))
        if isinstance(values, Uniform):
            if not values.low < values.high or (values.log and values.low <= 0):
                raise ValueError(f"{key}: {values} needs low < high (and 0 < low on a log scale)")
            for value in (values.low, values.high):
                resolve(spec, {key: value}, seed)
        elif isinstance(values, str) or not hasattr(values, "__iter__") or len(list(values)) == 0:
            raise ValueError(f"{key}: give a non-empty list of values, LogUniform(low, high) or Uniform(low, high)")
        else:
            for value in values:  # every choice must make a valid TrainConfig
                resolve(spec, {key: value}, seed)


def suggest(trial, space: dict) -> dict:
    """One value per name from an Optuna trial (its sampler decides: TPE, random, ...)."""
    params = {}
    for key, values in space.items():
        if isinstance(values, Uniform):
            params[key] = trial.suggest_float(key, values.low, values.high, log=values.log)
        else:
            params[key] = trial.suggest_categorical(key, [list(v) if isinstance(v, tuple) else v for v in values])
    return params


def resolve(spec: ModelSpec, params: dict, seed: int) -> dict:
    """The run that `params` ask for: `train` (TrainConfig keywords: the model's defaults, overridden), `build`
    and `steps_kwargs` (keywords of the model's functions), `z_dim`, and `values`: each given name's value as the
    run uses it (for the table: "lr" shows "G/D" when the two rates differ). Raises for impossible values."""
    build_keys, _ = _keys(spec)
    train = {"batch_size": 64, **spec.defaults, "seed": seed}
    build, steps_kwargs, z_dim = {}, {}, spec.z_dim
    for key, value in params.items():
        value = list(value) if isinstance(value, tuple) else value
        if key == "lr":
            train["lr_G"] = train["lr_D"] = value
        elif key in ("beta1", "beta2"):
            train["betas"] = list(train.get("betas", (0.5, 0.999)))
            train["betas"][key == "beta2"] = value
        elif key in TRAIN_KEYS:
            train[key] = value
        elif key == "z_dim":
            z_dim = value
        else:
            (build if key in build_keys else steps_kwargs)[key] = value
    config = TrainConfig(**{**train, "steps": 1})  # raises for impossible values, before any training
    return {"train": train, "build": build, "steps_kwargs": steps_kwargs, "z_dim": z_dim, "config": config}


def shown_values(spec: ModelSpec, space: dict, run: dict) -> dict:
    """Each searched name's value in `run` (from `resolve`), defaults included: what the table prints."""
    build_keys, _ = _keys(spec)
    config, values = run["config"], {}
    for key in space:
        if key == "lr":
            values[key] = config.lr_G if config.lr_G == config.lr_D else f"{config.lr_G:g}/{config.lr_D:g}"
        elif key in ("beta1", "beta2"):
            values[key] = config.betas[key == "beta2"]
        elif key in TRAIN_KEYS:
            values[key] = list(v) if isinstance(v := getattr(config, key), tuple) else v
        elif key == "z_dim":
            values[key] = run["z_dim"]
        else:
            given, fn = (run["build"], spec.build) if key in build_keys else (run["steps_kwargs"], spec.steps)
            values[key] = given.get(key, inspect.signature(fn).parameters[key].default)
    return values

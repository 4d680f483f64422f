"""Run folders, as `python -m ganhelpers train` (and each search trial) writes them: config.json (the model,
dataset and settings), checkpoint.pt (weights, optimizers, RNG, history, callback state), history.csv,
samples/ and, with a metric callback, best.pt.

    G, meta = load_generator("runs/dcgan-mnist-5k")

The reference set's generators, shipped with the package, load with `ganhelpers.reference.load_reference`.
"""
from __future__ import annotations

import json
from pathlib import Path

from .core.checkpoint import load_checkpoint
from .models import get_model


def read_config(run) -> dict:
    """RUN/config.json: {"model", "dataset", "z_dim", "img_shape", "n_classes", "train": TrainConfig, ...}."""
    path = Path(run) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{run} is not a run folder: it has no config.json (written by `train`)") from None


def build_generator(meta: dict):
    """A fresh generator of the shape a run's meta describes ("model", "img_shape", "n_classes", "z_dim" and the
    optional "build" options: config.json, or a reference generator's asset), to load weights into."""
    G, _ = get_model(meta["model"]).build(tuple(meta["img_shape"]), meta["n_classes"], meta["z_dim"],
                                          **meta.get("build", {}))
    return G


def load_generator(run, device="cpu", weights: str = "checkpoint.pt", ema: bool = True):
    """Rebuild a run's generator from RUN/config.json and load its weights from RUN/<weights>
    (checkpoint.pt, or best.pt kept by a metric callback). A run trained with `--ema` also holds G_ema, the
    moving average of G's weights: loaded by default, G itself with `ema=False`. Returns (G in eval mode on
    `device`, meta), meta being config.json plus "step", the step the weights are from, "seconds", the run's
    training time by then (None for a checkpoint older than that count), and "generator", "G_ema" or "G".
    Taught in 10_comparison_and_search.
    """
    run = Path(run)
    meta = read_config(run)
    G = build_generator(meta)
    ckpt = load_checkpoint(run / weights)
    averaged = [state["G_ema"] for key, state in ckpt.get("callbacks", {}).items()
                if key.endswith(".EMA") and "G_ema" in state]
    G.load_state_dict(averaged[0] if ema and averaged else ckpt["G"])
    return G.to(device).eval(), {**meta, "step": ckpt["step"], "seconds": ckpt.get("seconds"),
                                 "generator": "G_ema" if ema and averaged else "G"}


"""Run folders, as `python -m ganhelpers train` (and each search trial) writes them: config.json (the model,
dataset and settings), checkpoint.pt (weights, optimizers, RNG, history, callback state), history.csv,
samples/ and, with a metric callback, best.pt.

    G, meta = load_generator("runs/dcgan-mnist-5k")
    G, meta = load_reference("dcgan")   # the reference set's trained generator, shipped with the package
"""
from __future__ import annotations

import json
from pathlib import Path

from .core.checkpoint import load_checkpoint
from .models import get_model

ASSETS = Path(__file__).resolve().parent / "assets" / "reference"  # the reference generators (`ganhelpers.reference`)


def read_config(run) -> dict:
    """RUN/config.json: {"model", "dataset", "z_dim", "img_shape", "n_classes", "train": TrainConfig, ...}."""
    path = Path(run) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{run} is not a run folder: it has no config.json (written by `train`)") from None


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
    G, _ = get_model(meta["model"]).build(tuple(meta["img_shape"]), meta["n_classes"], meta["z_dim"],
                                          **meta.get("build", {}))
    ckpt = load_checkpoint(run / weights)
    averaged = [state["G_ema"] for key, state in ckpt.get("callbacks", {}).items()
                if key.endswith(".EMA") and "G_ema" in state]
    G.load_state_dict(averaged[0] if ema and averaged else ckpt["G"])
    return G.to(device).eval(), {**meta, "step": ckpt["step"], "seconds": ckpt.get("seconds"),
                                 "generator": "G_ema" if ema and averaged else "G"}


def reference_models() -> list[str]:
    """The models whose reference generator ships with the package."""
    return sorted(p.stem for p in ASSETS.glob("*.pt"))


def load_reference(model: str, device="cpu"):
    """The reference set's trained generator of `model` (`python -m ganhelpers reference`: G_ema of seed 0 on
    mnist-5k, stored in fp16 inside the package), in float32 and eval mode on `device`. Returns (G, meta), meta
    holding the model, its shapes and the run's record ("record": commands, machine, steps, seconds, scores).
    Taught in every notebook's results section, beside the student's own run.
    """
    path = ASSETS / f"{model}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no reference generator for {model!r}: the package ships "
                                f"{', '.join(reference_models()) or 'none'}; `python -m ganhelpers reference {model}` "
                                "trains one (from a source checkout)")
    asset = load_checkpoint(path)  # weights_only=True
    G, _ = get_model(model).build(tuple(asset["img_shape"]), asset["n_classes"], asset["z_dim"], **asset["build"])
    G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in asset["state"].items()})
    return G.to(device).eval(), {k: v for k, v in asset.items() if k != "state"}


def describe_reference(meta: dict) -> str:
    """A few lines on a reference generator's run, from its record (`load_reference`'s meta): what it is, the
    command that trained it, where, how long, and its scores with their protocol."""
    record = meta["record"]
    part = record["train"]["parts"][0]
    env = part["environment"]
    skip = ("n", "n_classes", "n_modes")
    scores = ", ".join(f"{k} {v:.3g}" for k, v in record["scores"].items()
                       if isinstance(v, (int, float)) and k not in skip and not k.endswith("_std"))
    return (f"reference {meta['model']} ({meta['generator']}), {record['train']['steps']:,} G steps in "
            f"{record['train']['seconds']:,.0f} s on {env['cpu']}, {env['threads']} thread(s), torch {env['torch']}, "
            f"{env['date']} (record data/records/{meta['record_file']}):\n"
            f"  trained with: {part['command']}\n"
            f"  scores: {scores}\n"
            f"  protocol: {record['protocol']}")

"""The reference set: every model trained on `mnist-5k` under its recipe, by one command, for the README's
gallery and for the notebooks to show a trained generator at once, even in smoke mode.

    python -m ganhelpers reference                     # every model, seeds 0, 1 and 2, two runs at a time
    python -m ganhelpers reference dcgan --seeds 0     # one model, one seed
    python -m ganhelpers reference --gallery           # only rewrite the README's gallery from the records
    python -m ganhelpers reference --variant augment   # a change to the recipes, for the same time, recorded apart

For each model and seed it runs the command line itself, one torch thread per run, so that each record holds
the exact commands that reproduce it: `train` under the recipe (a step budget, about five idle CPU minutes
on the development machine at one thread: with one thread, the same torch and CPU, a step budget gives the
same weights again, a time budget would not), `evaluate --record` of G_ema and of G (`--raw`), and `sample`.
Runs whose records exist are skipped, so an interrupted command continues where it stopped. Then the summary
(`gallery.summarize`) decides, from the records, which generator each recipe samples: G_ema where it scored better
than G on every one of at least three seeds, else G; seed 0's is exported in fp16, with its record, to
`ganhelpers/assets/reference/MODEL.pt`, which `load_reference` loads (`weights_only=True`). A clone holds the
records but no runs: `--seeds 0` then trains seed 0 again to export it, and checks that it scores as recorded.

A variant (`--variant augment`) trains every model with one change to its recipe for as long as the recipe trains:
the recipe's steps divided by the change's cost per step, measured by its benchmark
(tests/benchmarks/bench_augment.py, data/records/bench_augment.json). Its records go to
data/records/reference/MODEL-VARIANT/, and the summary compares them with the recipe's, seed by seed.

The recipe's average: G_ema copies G until half the steps and then averages with decay 1 - 10 / steps (a
window of about the last tenth of training; the copy of the halfway G keeps a weight of about e^-5 < 1%).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from .core.checkpoint import load_checkpoint, save_checkpoint
from .models import get_model
from .records import CHECKOUT, RECORDS_DIR
from .runs import build_generator, load_generator

ASSETS = Path(__file__).resolve().parent / "assets" / "reference"  # seed 0's generator of every model, fp16
# relative to the checkout, where the commands run: the records name portable paths
RUNS, RECORDS, GALLERY = Path("runs/reference"), Path("data/records"), Path("data/gallery")
DATASET = "mnist-5k"
SEEDS = (0, 1, 2)

# model -> G steps: about five idle CPU minutes at one thread on the development machine (2026-12-01 runs)
RECIPES = {"gan": 11_000, "dcgan": 2_200, "dcgan-improved": 1_200, "wgan-gp": 1_000, "cgan": 4_300,
           "acgan": 7_000, "sagan": 1_800, "pix2pix": 1_100, "pix2pix-l1": 2_500}
# recipe changes measured against the recipes (`--variant NAME`): the `train` options they add, and the benchmark
# record whose ratio (seconds per G step, changed / recipe) turns the recipe's steps into as many seconds of training
VARIANTS = {"augment": {"args": ["--augment", "translation,cutout"], "cost": "bench_augment.json"}}


def variant_steps(model: str, variant: str | None = None) -> int:
    """G steps of `model`'s run under `variant` (None: the recipe): the recipe's steps divided by the variant's
    measured cost ratio, so that both train for the same time. A model the benchmark did not measure is an error."""
    if variant is None:
        return RECIPES[model]
    cost = json.loads((RECORDS_DIR / VARIANTS[variant]["cost"]).read_text())["results"]
    if model not in cost:
        raise ValueError(f"--variant {variant}: {VARIANTS[variant]['cost']} has no cost ratio for {model!r} "
                         f"(it measured {', '.join(cost)}): run its benchmark for {model} first")
    return round(RECIPES[model] / cost[model]["ratio"])


def run_name(model: str, variant: str | None = None) -> str:
    """The run's name: MODEL for the recipe, MODEL-VARIANT for a change to it (also the records' folder)."""
    return model if variant is None else f"{model}-{variant}"


def ema_settings(steps: int) -> tuple[float, int]:
    """(decay, start) of the recipe's average for a run of `steps` G steps (the module's docstring says why)."""
    return max(0.5, round(1.0 - 10.0 / steps, 6)), steps // 2  # (a floor for the tests' few-step runs)


def commands(model: str, seed: int, variant: str | None = None) -> list[list[str]]:
    """The command lines (after `python -m ganhelpers`) of one reference run, in order; with `variant`, of the same
    run with that change to the recipe, for the same time (`variant_steps`), recorded apart."""
    steps = variant_steps(model, variant)
    decay, start = ema_settings(steps)
    name = run_name(model, variant)
    run, records = RUNS / f"{name}-seed{seed}", RECORDS / "reference" / name
    grid = ["--n", "16"] if model.startswith("pix2pix") else ["--n", "64"]
    extra = VARIANTS[variant]["args"] if variant else []
    out = [["train", model, "--dataset", DATASET, "--steps", str(steps), "--seed", str(seed), "--ema", str(decay),
            "--ema-start", str(start), *extra, "--out", str(run), "--device", "cpu"],
           ["evaluate", str(run), "--device", "cpu", "--record", str(records / f"seed{seed}.json")],
           ["evaluate", str(run), "--device", "cpu", "--raw",
            "--record", str(records / f"seed{seed}-raw.json")]]
    if seed == 0 and variant is None:
        out.append(["sample", str(run), *grid, "--device", "cpu", "--out", str(GALLERY / f"{model}.png")])
    return out


def run_one(model: str, seed: int, log=print, variant: str | None = None) -> Path:
    """Train, score and (seed 0 of a recipe) sample one reference run with the command line, one thread; skipped
    when both of its records exist. Returns the run folder."""
    name = run_name(model, variant)
    run = CHECKOUT / RUNS / f"{name}-seed{seed}"
    done = all((RECORDS_DIR / f"reference/{name}/seed{seed}{tail}.json").is_file() for tail in ("", "-raw"))
    if done:
        log(f"{name} seed {seed}: recorded, skipped")
        return run
    for args in commands(model, seed, variant):
        if args[0] == "train" and (run / "checkpoint.pt").is_file():  # an earlier call was interrupted
            if trained_steps(run) >= variant_steps(model, variant):
                continue  # after training
            args = [*args, "--resume"]  # during training: continue from its last checkpoint (bit for bit)
        log(f"{name} seed {seed}: python -m ganhelpers {' '.join(args)}")
        _ganhelpers(args)
    return run


def _ganhelpers(args: list) -> None:
    """`python -m ganhelpers ARGS` in the checkout, on one thread (as every reference run), its output discarded."""
    subprocess.run([sys.executable, "-m", "ganhelpers", *args], check=True, cwd=CHECKOUT,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)


def trained_steps(run: Path) -> int:
    """The G steps of a run's checkpoint (`train` writes one every 500 steps and at the end)."""
    return load_checkpoint(run / "checkpoint.pt")["step"]


def seed_zero_run(model: str, log=print) -> Path:
    """Seed 0's run folder of `model`, with its checkpoint, for `export`. A clone has the records but not the runs
    (runs/ is not committed): then train it again with the recorded command and score it into a scratch record; a
    step budget at one thread repeats on the same torch and CPU, so scores that differ from the committed records
    are an error (another torch build or CPU), and nothing is exported."""
    run = CHECKOUT / RUNS / f"{model}-seed0"
    if (run / "checkpoint.pt").is_file() and trained_steps(run) >= RECIPES[model]:
        return run
    train, *evaluations = [args for args in commands(model, 0) if args[0] in ("train", "evaluate")]
    if (run / "checkpoint.pt").is_file():  # an earlier call stopped during training
        train = [*train, "--resume"]
    for args in (train, *evaluations):
        committed = None
        if args[0] == "evaluate":  # score into scratch/, beside the run, and compare with the committed record
            committed = CHECKOUT / args[-1]
            args = [*args[:-1], str(RUNS / f"{model}-seed0" / "scratch" / committed.name)]
        log(f"{model} seed 0 (again, to export it): python -m ganhelpers {' '.join(args)}")
        _ganhelpers(args)
        if committed is not None:
            again = json.loads((CHECKOUT / args[-1]).read_text())["scores"]
            if again != (before := json.loads(committed.read_text())["scores"]):
                raise RuntimeError(f"{model} seed 0 trained again scores {again}, the committed {committed.name} "
                                   f"{before}: another torch build or CPU? "
                                   f"Train the reference set again (python -m ganhelpers reference {model})")
    return run


def export(model: str, run: Path, path: Path | None = None, ema: bool = True) -> Path:
    """Write a run's G_ema (or G: `ema=False`) as an fp16 state dict with what rebuilds it and its record,
    atomically."""
    G, meta = load_generator(run, ema=ema)
    record_file = f"reference/{model}/seed0{'' if ema else '-raw'}.json"
    record = json.loads((RECORDS_DIR / record_file).read_text())
    state = {k: v.half() if v.is_floating_point() else v for k, v in G.state_dict().items()}
    asset = {"model": model, "z_dim": meta["z_dim"], "img_shape": meta["img_shape"],
             "n_classes": meta["n_classes"], "build": meta.get("build", {}), "generator": meta["generator"],
             "state": state, "record": record, "record_file": record_file}
    path = path or ASSETS / f"{model}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(asset, path)


def reference_models() -> list[str]:
    """The models whose reference generator ships with the package."""
    return sorted(p.stem for p in ASSETS.glob("*.pt"))


def load_reference(model: str, device="cpu"):
    """The reference set's trained generator of `model` (`python -m ganhelpers reference`: seed 0's G_ema or G,
    whichever the recipe samples, trained on mnist-5k, stored in fp16 inside the package), in float32 and eval mode on `device`. Returns (G, meta), meta
    holding the model, its shapes and the run's record ("record": commands, machine, steps, seconds, scores).
    Taught in every notebook's results section, beside the student's own run.
    """
    path = ASSETS / f"{model}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no reference generator for {model!r}: the package ships "
                                f"{', '.join(reference_models()) or 'none'}; `python -m ganhelpers reference {model}` "
                                "trains one (from a source checkout)")
    asset = load_checkpoint(path)  # weights_only=True
    G = build_generator(asset)
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


@torch.no_grad()
def reference_samples(G, meta: dict, n: int = 64, seed: int = 0) -> tuple[torch.Tensor, int]:
    """What to show of a reference generator, and the grid's row length: (images (N, C, H, W) in [-1, 1], nrow).

    Unconditional: n samples; conditional: 8 per class, one class per row (`class_grid`); image-to-image:
    input | output | target for 8 held-out test pairs of mnist-5k. The noise has its own seeded generator.
    """
    from .data.pairs import heldout_pairs
    from .data.sets import to_float
    from .nn.conventions import eval_mode, generate
    from .viz.plot import class_grid
    from .viz.savers import triplet_grid
    spec = get_model(meta["model"])
    if spec.task.kind != "noise-to-image":
        pairs = heldout_pairs(DATASET, 0, 8)
        with eval_mode(G):
            outputs = G(to_float(pairs.conditions))  # (8, C, H, W)
        return triplet_grid(to_float(pairs.conditions), outputs, to_float(pairs.images), per_row=4)
    if spec.conditional:
        return class_grid(G, meta["n_classes"], per_class=8, seed=seed), 8
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))  # (n, z_dim)
    return generate(G, z), 8


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganhelpers reference",
                                     description="Train, score and export the reference set (ganhelpers/reference.py).")
    parser.add_argument("models", nargs="*", help=f"default: all of {', '.join(RECIPES)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each (default 2)")
    parser.add_argument("--variant", choices=list(VARIANTS),
                        help="train a change to the recipes instead, for the same time, recorded apart")
    parser.add_argument("--gallery", action="store_true", help="only rewrite the README's gallery from the records")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in RECIPES]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}: the reference set has {', '.join(RECIPES)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not args.gallery:
        models = args.models or list(RECIPES)
        jobs = [(m, s) for m in models for s in args.seeds]
        if args.variant:
            try:
                [variant_steps(m, args.variant) for m in models]  # before any training
            except ValueError as e:
                parser.error(str(e))
    if not (CHECKOUT / "pyproject.toml").is_file():  # after the checks of the arguments: bad input says so first
        parser.error("the reference set is written into a source checkout (data/records, the README, the package's "
                     "assets): run it from a clone of the repository, installed with pip install -e .")
    if not args.gallery:
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = dict(zip(jobs, pool.map(lambda job: run_one(*job, variant=args.variant), jobs)))
    from .gallery import SUMMARY, write_readme_gallery
    print(f"rewrote the gallery of {write_readme_gallery(CHECKOUT / 'README.md', RECORDS_DIR, order=list(RECIPES))}")
    if not args.gallery and args.variant is None:
        decided = json.loads((RECORDS_DIR / SUMMARY).read_text())["models"]
        for model in models:
            if (model, 0) in runs:  # the generator the recipe samples: G_ema where the records kept that change
                run, ema = seed_zero_run(model), decided[model]["generator"] == "G_ema"
                print(f"wrote {export(model, run, ema=ema)}")
                if not ema:  # the gallery's grid shows the generator the recipe samples (the run drew G_ema's)
                    sample = [*commands(model, 0)[-1], "--raw"]
                    _ganhelpers(sample)
                    print(f"wrote {sample[sample.index('--out') + 1]} (G)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

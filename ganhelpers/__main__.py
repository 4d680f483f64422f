"""Command line for headless runs.

    python -m ganhelpers train dcgan --dataset mnist-5k --minutes 5 --out runs/dcgan-mnist
    python -m ganhelpers sample runs/dcgan-mnist --n 64 --out samples.png
    python -m ganhelpers evaluate runs/dcgan-mnist --metric judge
    python -m ganhelpers search dcgan --dataset mnist-5k --minutes 10 --out runs/search-dcgan
    python -m ganhelpers list

Bad names, impossible numbers and a model that cannot take the dataset's shape exit with code 2
and a message, before any data is loaded or any step is trained.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from . import pix2pix


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{value} must be a positive, finite number")
    return value


def _parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .models import MODELS
    p = argparse.ArgumentParser(prog="python -m ganhelpers", description="Train and sample the course's GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model")
    t.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    t.add_argument("--dataset", default="mnist-5k", help=f"one of: {', '.join(DATASETS)} (default mnist-5k)")
    t.add_argument("--steps", type=_positive_int, help="G updates (default: the model's, or unlimited with --minutes)")
    t.add_argument("--minutes", type=_positive_float, help="time budget; stops gracefully with a checkpoint")
    t.add_argument("--batch-size", type=_positive_int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="run folder (default runs/MODEL-DATASET)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--ckpt-every", type=_positive_int, default=500, help="checkpoint every N steps (default 500)")
    t.add_argument("--sample-every", type=_positive_int, default=500, help="sample grid every N steps")
    t.add_argument("--amp", default="off", choices=["off", "auto", "fp16", "bf16"], help="mixed precision on CUDA")
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder written by `train`")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--labels", help="conditional models: 'all' (one class per row, ceil(n / classes) samples each; "
                   "the default) or a class index K")
    s.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npz (uint8 images, labels)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    e = sub.add_parser("evaluate", help="score a trained run, printing each number with its protocol")
    e.add_argument("run", help="run folder written by `train`")
    e.add_argument("--metric", default="judge", choices=["fid", "kid", "is", "judge", "l1"],
                   help="fid/kid/is: pytorch-fid's Inception (downloads its weights); judge: the offline judge "
                        "(mnist-5k, mnist, shapes, 2-D mixtures). Default judge")
    e.add_argument("--n", type=_positive_int, help="generated samples (default 10000 for fid/kid/is, 2000 for judge)")
    e.add_argument("--split", default="train", choices=["train", "test"], help="real reference split (default train)")
    e.add_argument("--best", action="store_true",
                   help="score RUN/best.pt (kept by metrics.MetricCallback) instead of checkpoint.pt")
    e.add_argument("--batch-size", type=_positive_int, default=100)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    r = sub.add_parser("search", help="hyperparameter search (successive halving) against the model's default")
    r.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    r.add_argument("--dataset", default="mnist-5k", help="one with an offline judge: mnist-5k, mnist, shapes")
    r.add_argument("--minutes", type=_positive_float, help="total time budget of the search")
    r.add_argument("--steps", type=_positive_int, help="instead of --minutes: G steps per finalist (reproducible)")
    r.add_argument("--trials", type=_positive_int, default=8, help="configurations besides the default (default 8)")
    r.add_argument("--eta", type=int, default=3, help="keep the best 1/eta at each rung (default 3)")
    r.add_argument("--out", help="search folder (default runs/search-MODEL-DATASET); rerun it to resume")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    sub.add_parser("list", help="list models and datasets")
    return p


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _train, "sample": _sample, "evaluate": _evaluate, "search": _search,
                "list": _list}[args.command](args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _list(args, parser) -> int:
    from .data import DATASETS
    from .models import MODELS
    print("models:")
    for name, spec in MODELS.items():
        print(f"  {name:<16} {spec.about}")
    print("datasets:")
    for name, info in DATASETS.items():
        where = "embedded" if info["offline"] else "download"
        print(f"  {name:<16} {str(tuple(info['shape'])):<13} {info['n_classes']:>3} classes  {where:<8}  {info['about']}")
    return 0


def _train(args, parser) -> int:
    from .data import DATASETS, DatasetUnavailable, load_dataset
    from .models import MODELS
    from .train import UNLIMITED, SampleSaver, TrainConfig, Trainer, _amp_dtype
    from .utils import count_params, get_device, seed_everything
    # every check that needs no data or training comes first
    if args.model not in MODELS:
        parser.error(f"unknown model {args.model!r}: choose one of {', '.join(MODELS)}")
    if args.dataset not in DATASETS:
        parser.error(f"unknown dataset {args.dataset!r}: choose one of {', '.join(DATASETS)}")
    spec, info = MODELS[args.model], DATASETS[args.dataset]
    problem = spec.check(tuple(info["shape"]))
    if problem:
        parser.error(f"{problem}; pick another --dataset (see `python -m ganhelpers list`)")
    out = Path(args.out or f"runs/{args.model}-{args.dataset}")
    if args.resume and not (out / "checkpoint.pt").is_file():
        parser.error(f"--resume: there is no checkpoint at {out / 'checkpoint.pt'}")
    if not args.resume and (out / "checkpoint.pt").is_file():
        parser.error(f"{out} already holds a run: add --resume to continue it, or choose another --out")
    try:
        get_device(args.device)
    except ValueError as e:
        parser.error(str(e))
    steps = args.steps or (UNLIMITED if args.minutes else 2000)
    try:
        config = TrainConfig(**{**spec.defaults, "steps": steps, "minutes": args.minutes,
                                "batch_size": args.batch_size, "seed": args.seed, "device": args.device,
                                "out_dir": str(out), "resume": args.resume, "ckpt_every": args.ckpt_every,
                                "amp": args.amp, "log_every": 50})
    except ValueError as e:
        parser.error(str(e))
    problem = _resume_mismatch(out, config) if args.resume else None
    if problem:
        parser.error(problem)
    try:
        _amp_dtype(args.amp, get_device(args.device))  # e.g. bf16 on a GPU without it
    except ValueError as e:
        parser.error(str(e))

    try:
        data = load_dataset(args.dataset, "train", seed=args.seed)
    except DatasetUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.batch_size > len(data):
        parser.error(f"--batch-size {args.batch_size} is larger than the dataset ({len(data)} images)")
    seed_everything(args.seed)
    z_dim = 100
    G, D = spec.build(data.img_shape, data.n_classes, z_dim)
    d_step, g_step = spec.steps()
    print(f"{args.model} on {args.dataset} ({len(data)} images {data.img_shape}): "
          f"G {count_params(G):,} params, D {count_params(D):,} params -> {out}")
    meta = {"model": args.model, "dataset": args.dataset, "z_dim": z_dim,
            "img_shape": list(data.img_shape), "n_classes": data.n_classes}
    source, callbacks = data, [SampleSaver(out, every=args.sample_every)]
    if args.model in pix2pix.MODEL_NAMES:  # image-to-image: batches of (target, condition) pairs made from data
        test_pairs = pix2pix.heldout_pairs(args.dataset, args.seed)
        source = pix2pix.PairSampler(pix2pix.make_pairs(data), args.batch_size, get_device(args.device), args.seed)
        callbacks = [pix2pix.TripletSaver(out, test_pairs, every=args.sample_every)]  # input | output | target
    trainer = Trainer(G, D, d_step, g_step, source, config, meta=meta, callbacks=callbacks)
    if args.model in pix2pix.MODEL_NAMES:
        pix2pix.use_fixed_pairs(trainer, test_pairs)  # progress grids: G's outputs for fixed test conditions
    trainer.fit()
    print(f"wrote {out / 'checkpoint.pt'}, {out / 'history.csv'}, {out / 'config.json'}, {out / 'samples'}/")
    return 0


def _resume_mismatch(out: Path, config) -> str | None:
    """Why the run in `out` cannot be resumed with `config` (the settings a resume must keep), or None."""
    try:
        old = json.loads((out / "config.json").read_text())["train"]
    except (OSError, ValueError, KeyError):
        return None  # no readable config.json: the checkpoint itself is checked when it loads
    from .train import RESUME_KEYS
    for key in RESUME_KEYS:
        if old.get(key) != getattr(config, key):
            flag = {"batch_size": "--batch-size", "seed": "--seed"}.get(key, key)
            return (f"--resume: {out} was trained with {key}={old.get(key)}, not {getattr(config, key)}: "
                    f"resume with {flag} {old.get(key)}, or start a new run with another --out")
    return None


def _search(args, parser) -> int:
    from . import search
    out = Path(args.out or f"runs/search-{args.model}-{args.dataset}")
    try:  # every check comes before any training
        job = search.Search(args.model, dataset=args.dataset, minutes=args.minutes, steps=args.steps,
                            trials=args.trials, eta=args.eta, out=out, seed=args.seed, device=args.device)
    except ValueError as e:
        parser.error(str(e))
    try:
        results = job.run()  # prints each trial, then the table, the best configuration and the default's score
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    search.plot_search(results, out / "search.png")
    print(f"wrote {out / 'results.json'}, {out / 'results.csv'}, {out / 'search.png'}; trials in {out}/trial_*")
    return 0


def load_generator(run, device="cpu"):
    """Rebuild a run's generator from RUN/config.json and load its weights from RUN/checkpoint.pt."""
    from .models import get_model
    from .utils import load_checkpoint
    run = Path(run)
    meta = json.loads((run / "config.json").read_text())
    G, _ = get_model(meta["model"]).build(tuple(meta["img_shape"]), meta["n_classes"], meta["z_dim"])
    G.load_state_dict(load_checkpoint(run / "checkpoint.pt")["G"])
    return G.to(device).eval(), meta


def _sample(args, parser) -> int:
    import numpy as np

    from .data import to_uint8
    from .models import get_model
    from .utils import get_device
    run, out = Path(args.run), Path(args.out)
    if not (run / "config.json").is_file() or not (run / "checkpoint.pt").is_file():
        parser.error(f"{run} is not a run folder (it needs config.json and checkpoint.pt from `train`)")
    if out.suffix not in (".png", ".npz"):
        parser.error(f"--out {out}: use a .png (grid) or .npz (arrays) file name")
    meta = json.loads((run / "config.json").read_text())
    conditional = get_model(meta["model"]).conditional
    n_classes = meta["n_classes"]
    if args.labels is not None and not conditional:
        parser.error(f"model {meta['model']!r} is unconditional: drop --labels")
    if args.labels not in (None, "all") and not (args.labels.isdigit() and int(args.labels) < n_classes):
        parser.error(f"--labels {args.labels!r}: use 'all' or a class index 0..{n_classes - 1}")
    device = get_device(args.device)
    G, meta = load_generator(run, device)
    if meta["model"] in pix2pix.MODEL_NAMES:  # image-to-image: input | output | target of held-out pairs
        print(pix2pix.cli_sample(G, meta, out, args.n))
        return 0
    torch.manual_seed(args.seed)
    labels, n, by_class = None, args.n, conditional and args.labels in (None, "all")
    per_class = -(-n // n_classes) if by_class else n  # ceil(n / n_classes): every row of the grid is full
    if conditional:
        if by_class:  # class by row: per_class samples of class 0, then of class 1, ...
            n = per_class * n_classes
            labels = torch.arange(n_classes).repeat_interleave(per_class)
        else:
            labels = torch.full((n,), int(args.labels))
        labels = labels.to(device)
    with torch.no_grad():
        images = G(torch.randn(n, G.z_dim, device=device), labels).cpu()  # (n, C, H, W) in [-1, 1]
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        from .plot import save_grid
        save_grid(images, out, nrow=per_class if by_class else 8)
    else:
        arrays = {"images": to_uint8(images).numpy()}
        if labels is not None:
            arrays["labels"] = labels.cpu().numpy()
        np.savez(out, **arrays)
    print(f"wrote {n} samples to {out}" + (f" ({per_class} per class, one class per row)" if by_class else ""))
    return 0


def _evaluate(args, parser) -> int:
    from . import judges, metrics
    from .data import DATASETS, DatasetUnavailable
    from .utils import get_device, load_checkpoint
    run = Path(args.run)
    weights = run / ("best.pt" if args.best else "checkpoint.pt")
    if not (run / "config.json").is_file() or not weights.is_file():
        parser.error(f"{run} is not a run folder (it needs config.json and {weights.name})")
    dataset = json.loads((run / "config.json").read_text())["dataset"]
    if json.loads((run / "config.json").read_text())["model"] in pix2pix.MODEL_NAMES:
        return _evaluate_paired(args, parser, run, weights)
    if args.metric == "l1":
        parser.error("--metric l1 scores image-to-image runs (pix2pix) on held-out pairs; use judge or fid here")
    points = len(DATASETS.get(dataset, {}).get("shape", ())) == 1
    if args.metric == "judge" and dataset not in judges.JUDGE_FOR and dataset not in judges.MIXTURES:
        parser.error(f"no offline judge for {dataset!r} (judges: {', '.join(judges.JUDGE_FOR)}, "
                     f"{', '.join(judges.MIXTURES)}); use --metric fid")
    if args.metric != "judge" and points:
        parser.error(f"{dataset} holds 2-D points: Inception scores need images; use --metric judge")
    device = get_device(args.device)
    G, meta = load_generator(run, device)
    ckpt = load_checkpoint(weights, map_location=device)
    G.load_state_dict(ckpt["G"])  # best.pt with --best (checkpoint.pt is what load_generator read)
    n = args.n or (2000 if args.metric == "judge" else 10000)
    try:
        if args.metric == "judge":
            scores = judges.judge_scores(G, dataset, n=n, reference_split=args.split, device=device, seed=args.seed,
                                         batch_size=args.batch_size)
        else:
            scores = metrics.fid_scores(G, dataset, n=n, split=args.split, with_fid=args.metric == "fid",
                                        with_kid=args.metric == "kid", with_is=args.metric == "is", device=device,
                                        seed=args.seed, batch_size=args.batch_size)
    except (metrics.WeightsUnavailable, DatasetUnavailable, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{run} ({meta['model']} on {dataset}, {weights.name} at step {ckpt['step']}):")
    for key, value in scores.items():
        if key not in ("protocol", "n", "n_classes", "n_modes") and value is not None:
            of = {"classes_covered": scores.get("n_classes"), "modes_covered": scores.get("n_modes")}.get(key)
            std = scores.get(f"{key}_std")
            if not key.endswith("_std"):
                print(f"  {key:<16} {value:.4g}" + (f" +- {std:.2g}" if std is not None else "")
                      + (f" of {of}" if of else ""))
    print(f"  protocol: {scores['protocol']}")
    return 0


def _evaluate_paired(args, parser, run, weights) -> int:
    """Pix2Pix runs: L1 (and sharpness, judge accuracy) on the held-out test pairs."""
    from .utils import get_device, load_checkpoint
    if args.metric not in ("judge", "l1"):
        parser.error(f"--metric {args.metric}: an image-to-image run is scored on held-out pairs, use --metric l1")
    device = get_device(args.device)
    G, meta = load_generator(run, device)
    ckpt = load_checkpoint(weights, map_location=device)
    G.load_state_dict(ckpt["G"])
    print(f"{run} ({meta['model']} on {meta['dataset']}, {weights.name} at step {ckpt['step']}):")
    print("\n".join(pix2pix.cli_evaluate(G, meta, args.n, args.batch_size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

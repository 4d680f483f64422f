"""Command line for headless runs.

    python -m ganhelpers train dcgan --dataset mnist-5k --minutes 5 --out runs/dcgan-mnist
    python -m ganhelpers sample runs/dcgan-mnist --n 64 --out samples.png
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
    s.add_argument("--labels", help="conditional models: 'all' (every class in turn) or a class index K")
    s.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npz (uint8 images, labels)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    sub.add_parser("list", help="list models and datasets")
    return p


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _train, "sample": _sample, "list": _list}[args.command](args, parser)
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
    from .train import SampleSaver, TrainConfig, Trainer
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
    steps = args.steps or (10**9 if args.minutes else 2000)
    try:
        config = TrainConfig(**{**spec.defaults, "steps": steps, "minutes": args.minutes,
                                "batch_size": args.batch_size, "seed": args.seed, "device": args.device,
                                "out_dir": str(out), "resume": args.resume, "ckpt_every": args.ckpt_every,
                                "amp": args.amp, "log_every": 50})
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
    trainer = Trainer(G, D, d_step, g_step, data, config, meta=meta,
                      callbacks=[SampleSaver(out, every=args.sample_every)])
    trainer.fit()
    print(f"wrote {out / 'checkpoint.pt'}, {out / 'history.csv'}, {out / 'config.json'}, {out / 'samples'}/")
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
    torch.manual_seed(args.seed)
    labels = None
    if conditional:
        if args.labels in (None, "all"):  # class by row: n // n_classes samples of each class in turn
            labels = torch.arange(args.n) * n_classes // args.n
        else:
            labels = torch.full((args.n,), int(args.labels))
        labels = labels.to(device)
    with torch.no_grad():
        images = G(torch.randn(args.n, G.z_dim, device=device), labels).cpu()  # (n, C, H, W) in [-1, 1]
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        from .plot import save_grid
        save_grid(images, out, nrow=n_classes if conditional and args.labels in (None, "all") else 8)
    else:
        arrays = {"images": to_uint8(images).numpy()}
        if labels is not None:
            arrays["labels"] = labels.cpu().numpy()
        np.savez(out, **arrays)
    print(f"wrote {args.n} samples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line for headless runs.

    python -m ganhelpers train dcgan --dataset mnist-5k --minutes 5 --out runs/dcgan-mnist
    python -m ganhelpers sample runs/dcgan-mnist --n 64 --out samples.png
    python -m ganhelpers evaluate runs/dcgan-mnist --metric judge
    python -m ganhelpers search dcgan --dataset mnist-5k --minutes 10 --out runs/search-dcgan [--workers 2]
    python -m ganhelpers list

Bad names, impossible numbers and a model that cannot take the dataset's shape exit with code 2
and a message, before any data is loaded or any step is trained.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path



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
    from .data.datasets import DATASETS
    from .models import MODELS
    metrics = sorted({m for spec in MODELS.values() for m in spec.task.metrics})
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
    t.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="also keep G_ema, an exponential moving average of G's weights with this decay, e.g. 0.999 "
                        "(default 0: off); sample and evaluate then use G_ema")
    t.add_argument("--augment", metavar="POLICY",
                   help="DiffAugment: D sees reals and fakes randomly changed by these differentiable operations, "
                        "a comma-separated list of color, translation, cutout (e.g. translation,cutout)")
    t.add_argument("--ema-start", type=int, default=0, metavar="STEP",
                   help="with --ema: G_ema copies G until this step and averages from then on (default 0)")
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder written by `train`")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--labels", help="conditional models: 'all' (one class per row, ceil(n / classes) samples each; "
                   "the default) or a class index K")
    s.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npz (uint8 images, labels)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    s.add_argument("--raw", action="store_true", help="a run trained with --ema: sample G itself, not G_ema")
    e = sub.add_parser("evaluate", help="score a trained run, printing each number with its protocol")
    e.add_argument("run", help="run folder written by `train`")
    e.add_argument("--metric", choices=metrics,
                   help="noise-to-image models: judge (the offline judge of mnist-5k, mnist, shapes and the 2-D "
                        "mixtures; the default), or fid/kid/is (pytorch-fid's Inception, downloads its weights); "
                        "image-to-image models: l1 on held-out pairs (the default)")
    e.add_argument("--n", type=_positive_int, help="samples (default 10000 for fid/kid/is, 2000 for judge, all held-out "
                   "pairs for l1)")
    e.add_argument("--split", default="train", choices=["train", "test"],
                   help="noise-to-image models: the real split to compare with (default train); image-to-image "
                        "models are always scored on the held-out test pairs")
    e.add_argument("--best", action="store_true",
                   help="score RUN/best.pt (kept by eval.metrics.MetricCallback) instead of checkpoint.pt")
    e.add_argument("--batch-size", type=_positive_int, default=100)
    e.add_argument("--record", help="also write the result as a record (JSON): the commands that trained and scored "
                   "the run, where and when (torch, machine, threads), its seed, steps and seconds, and the scores")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    e.add_argument("--raw", action="store_true", help="a run trained with --ema: score G itself, not G_ema")
    r = sub.add_parser("search", help="hyperparameter search on Optuna (successive halving) against the model's "
                       "default; several workers, on one machine or many, can share one study")
    r.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    r.add_argument("--dataset", default="mnist-5k", help="noise-to-image models: one with an offline judge (mnist-5k, "
                   "mnist, shapes)")
    r.add_argument("--minutes", type=_positive_float, help="time budget of the search on this machine")
    r.add_argument("--steps", type=_positive_int, help="instead of --minutes: G steps per finalist (reproducible)")
    r.add_argument("--trials", type=_positive_int, default=8, help="configurations besides the default (default 8)")
    r.add_argument("--eta", type=int, default=3, help="keep the best 1/eta at each rung (default 3)")
    r.add_argument("--sampler", default="tpe", choices=["tpe", "random"], help="how Optuna proposes configurations "
                   "(default tpe: random for the first 10 trials, then guided by the scores so far)")
    r.add_argument("--pruner", default="halving", choices=["halving", "hyperband"],
                   help="successive halving (default) or Hyperband")
    r.add_argument("--out", help="search folder (default runs/search-MODEL-DATASET): trial folders, and the study "
                   "(study.db) unless --storage is given; rerun to continue")
    r.add_argument("--storage", help="where the study lives: a database URL, e.g. postgresql://USER:PASSWORD@HOST/DB "
                   "shared by a class (default sqlite:///OUT/study.db)")
    r.add_argument("--study", help="the study's name in the storage (default MODEL-DATASET)")
    r.add_argument("--workers", type=_positive_int, default=1, help="worker processes on this machine (default 1); "
                   "the machine's cores are shared out between them")
    r.add_argument("--heartbeat", type=_positive_int, default=10, help="seconds between a worker's heartbeats; a "
                   "trial silent for three of them is failed and run again (default 10)")
    r.add_argument("--record", help="when the study is complete, also write it as a record (JSON): the command, "
                   "where and when, the search's settings and plan, every trial's row, and the best and the default")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    sub.add_parser("list", help="list models and datasets")
    sub.add_parser("reference", help="train, score and export the reference set (see `reference --help`)")
    sub.add_parser("pacgan", help="run PacGAN's Table 1 protocol on the 2-D mixtures (see `pacgan --help`)")
    return p


def main(argv=None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reference"]:  # its own parser: ganhelpers/reference.py
        from .reference import main as reference
        return reference(argv[1:])
    if argv[:1] == ["pacgan"]:  # its own parser: ganhelpers/pacgan_table.py
        from .pacgan_table import main as pacgan
        return pacgan(argv[1:])
    args = parser.parse_args(argv)
    args.argv = argv  # a search with --workers starts copies of itself
    args.command_line = "python -m ganhelpers " + shlex.join(argv)  # for records: the command that made a result
    try:
        return {"train": _train, "sample": _sample, "evaluate": _evaluate, "search": _search,
                "list": _list}[args.command](args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _list(args, parser) -> int:
    from .data.datasets import DATASETS
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
    from .core.callbacks import EMA
    from .core.config import UNLIMITED, TrainConfig, amp_dtype
    from .core.runtime import environment, seed_everything
    from .core.trainer import Trainer
    from .data.datasets import DATASETS, DatasetUnavailable, load_dataset
    from .models import MODELS
    from .nn.conventions import count_params
    # every check that needs no data or training comes first
    if args.model not in MODELS:
        parser.error(f"unknown model {args.model!r}: choose one of {', '.join(MODELS)}")
    if args.dataset not in DATASETS:
        parser.error(f"unknown dataset {args.dataset!r}: choose one of {', '.join(DATASETS)}")
    spec, info = MODELS[args.model], DATASETS[args.dataset]
    problem = spec.check(tuple(info["shape"]), info["n_classes"])
    if problem:
        parser.error(f"{problem}; pick another --dataset (see `python -m ganhelpers list`)")
    out = Path(args.out or f"runs/{args.model}-{args.dataset}")
    if args.resume and not (out / "checkpoint.pt").is_file():
        parser.error(f"--resume: there is no checkpoint at {out / 'checkpoint.pt'}")
    if not args.resume and (out / "checkpoint.pt").is_file():
        parser.error(f"{out} already holds a run: add --resume to continue it, or choose another --out")
    if not 0.0 <= args.ema < 1.0:
        parser.error(f"--ema {args.ema}: the decay of an average lives in [0, 1), e.g. 0.999 (0 turns it off)")
    if args.ema_start < 0 or (args.ema_start and not args.ema):
        parser.error(f"--ema-start {args.ema_start}: a step >= 0, and only with --ema")
    if args.augment is not None:
        from .nn.augment import parse_policy
        try:
            args.augment = ",".join(parse_policy(args.augment))
        except ValueError as e:
            parser.error(f"--augment: {e}")
        if spec.task.kind != "noise-to-image":
            parser.error(f"--augment: model {args.model!r} translates images; DiffAugment is for noise-to-image models")
    device = _device(parser, args.device)
    steps = args.steps or (UNLIMITED if args.minutes else 2000)
    try:
        config = TrainConfig(**{**spec.defaults, "steps": steps, "minutes": args.minutes,
                                "batch_size": args.batch_size, "seed": args.seed, "device": args.device,
                                "out_dir": str(out), "resume": args.resume, "ckpt_every": args.ckpt_every,
                                "amp": args.amp, "log_every": 50})
    except ValueError as e:
        parser.error(str(e))
    problem = _resume_mismatch(out, config, args.augment, args.ema) if args.resume else None
    if problem:
        parser.error(problem)
    try:
        amp_dtype(args.amp, device)  # e.g. bf16 on a GPU without it
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
    G, D = spec.build(data.img_shape, data.n_classes, spec.z_dim)
    if args.augment:
        from .nn.augment import Augmented
        D = Augmented(D, args.augment)  # every input of D, real or fake, in D's step and in G's
    d_step, g_step = spec.steps()
    print(f"{args.model} on {args.dataset} ({len(data)} images {data.img_shape}): "
          f"G {count_params(G):,} params, D {count_params(D):,} params -> {out}")
    earlier = _read_json(out / "config.json").get("parts", []) if args.resume else []
    part = {"command": args.command_line, "environment": environment(device)}
    meta = {"model": args.model, "dataset": args.dataset, "z_dim": spec.z_dim,
            "img_shape": list(data.img_shape), "n_classes": data.n_classes,
            "parts": [*earlier, part]}  # what trained it, where and when: a resumed run lists every part
    callbacks = spec.task.callbacks(out, args.dataset, args.seed, args.sample_every)
    if args.augment:
        meta["augment"] = args.augment
    if args.ema:
        meta["ema"] = {"decay": args.ema, "start": args.ema_start}
        callbacks = [EMA(args.ema, start=args.ema_start), *callbacks]  # first: the progress pictures stay G's
    trainer = Trainer(G, D, d_step, g_step, spec.task.sampler(data, args.batch_size, device, args.seed), config,
                      meta=meta, callbacks=callbacks)
    trainer.fit()
    print(f"wrote {out / 'checkpoint.pt'}, {out / 'history.csv'}, {out / 'config.json'}, {out / 'samples'}/")
    return 0


def _device(parser, name: str):
    """The torch device `--device` names; exits with a message when it is not there (e.g. cuda without a GPU)."""
    from .core.runtime import get_device
    try:
        return get_device(name)
    except ValueError as e:
        parser.error(str(e))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _resume_mismatch(out: Path, config, augment: str | None, ema: float) -> str | None:
    """Why the run in `out` cannot be resumed with `config`, `--augment` and `--ema` (the settings a resume must
    keep), or None."""
    saved = _read_json(out / "config.json")
    if saved.get("augment") != augment:
        return f"--resume: {out} was trained with --augment {saved.get('augment')}; resume it the same way"
    if bool(saved.get("ema")) != bool(ema):
        return f"--resume: {out} was trained {'with' if not ema else 'without'} --ema; resume it the same way"
    old = saved.get("train")
    if old is None:
        return None  # no readable config.json: the checkpoint itself is checked when it loads
    from .core.config import RESUME_KEYS
    for key in RESUME_KEYS:
        if old.get(key) != getattr(config, key):
            flag = {"batch_size": "--batch-size", "seed": "--seed"}.get(key, key)
            return (f"--resume: {out} was trained with {key}={old.get(key)}, not {getattr(config, key)}: "
                    f"resume with {flag} {old.get(key)}, or start a new run with another --out")
    return None


def _search(args, parser) -> int:
    import os
    import subprocess
    import time
    from . import search
    started = time.time()
    out = Path(args.out or f"runs/search-{args.model}-{args.dataset}")
    try:  # every check comes before any training: arguments, then the store and the study in it
        job = search.Search(args.model, dataset=args.dataset, minutes=args.minutes, steps=args.steps,
                            trials=args.trials, sampler=args.sampler, pruner=args.pruner, eta=args.eta, out=out,
                            storage=args.storage, study=args.study, seed=args.seed, device=args.device,
                            workers=args.workers, heartbeat=args.heartbeat)
        job.open()
    except ValueError as e:
        parser.error(str(e))
    try:
        if args.workers == 1:
            study = job.run()  # prints each trial's rungs, then the table, the best configuration and the default
        else:  # N copies of this command, one worker each, sharing the cores; this process only waits
            job.prepare()  # the per-trial budget, planned once and stored in the study for every worker
            argv = _without_option(args.argv, "--workers")
            env = {**os.environ, "OMP_NUM_THREADS": str(search.study.worker_threads(args.workers))}
            workers = [subprocess.Popen([sys.executable, "-m", "ganhelpers", *argv, "--workers", "1"], env=env)
                       for _ in range(args.workers)]
            failed = [w.args for w in workers if w.wait() != 0]
            if failed:
                print(f"error: {len(failed)} of {args.workers} workers failed (their messages are above)",
                      file=sys.stderr)
                return 1
            study = job.open()
            print(search.format_table(study))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.storage is None:
        print(f"study {job.study_name!r} in {out / 'study.db'}; trials in {out}/trial_*")
    if args.record:
        _search_record(args, study, started)
    return 0


def _search_record(args, study, started):
    """The study as a record: settings and plan, every trial's row, the best and the default (value and values)."""
    import optuna
    from . import search
    from .core.runtime import get_device
    from .records import save_record
    rows, default = search.table_rows(study), search.default_trial(study)
    if default is None or any(r["status"] in ("running", "waiting") for r in rows):
        print(f"the study is not complete yet: no record written to {args.record} (run the command again)")
        return
    best = study.best_trial
    done = [r for r in rows if r["status"] in ("complete", "pruned", "diverged")]
    summary = lambda t: {"trial": t.number, "value": t.value, "values": t.user_attrs["values"],  # noqa: E731
                         "steps": t.user_attrs["steps"][-1], "seconds": t.user_attrs["seconds"][-1],
                         "scores": t.user_attrs["scores"]}
    save_record(Path(args.record), args.command_line, {**study.user_attrs["search"], "plan": study.user_attrs["plan"],
                                                       "workers": args.workers, "optuna": optuna.__version__},
                {"metric": study.user_attrs["search"]["metric"], "n_trials": len(done), "best": summary(best),
                 "default": summary(default), "best_beats_default": best.number != default.number, "trials": rows},
                device=get_device(args.device), started=started, experiment="search", study=study.study_name)


def _without_option(argv: list, option: str) -> list:
    """argv less `option VALUE` and `option=VALUE`."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            kept.append(a)
    return kept


def _run_folder(parser, run: Path, weights: str = "checkpoint.pt"):
    """(the run's spec, its config.json) after checking that `run` holds a run; exits with a message otherwise."""
    from .models import get_model
    from .runs import read_config
    if not (run / "config.json").is_file() or not (run / weights).is_file():
        parser.error(f"{run} is not a run folder (it needs config.json and {weights} from `train`)")
    meta = read_config(run)
    return get_model(meta["model"]), meta


def _sample(args, parser) -> int:
    from .runs import load_generator
    run, out = Path(args.run), Path(args.out)
    spec, meta = _run_folder(parser, run)
    if out.suffix not in (".png", ".npz"):
        parser.error(f"--out {out}: use a .png (grid) or .npz (arrays) file name")
    n_classes = meta["n_classes"]
    if args.labels is not None and not spec.conditional:
        parser.error(f"model {meta['model']!r} is unconditional: drop --labels")
    if args.labels not in (None, "all") and not (args.labels.isdigit() and int(args.labels) < n_classes):
        parser.error(f"--labels {args.labels!r}: use 'all' or a class index 0..{n_classes - 1}")
    device = _device(parser, args.device)
    G, meta = load_generator(run, device, ema=not args.raw)
    print(spec.task.sample(G, meta, out, args.n, args.labels, args.seed))
    return 0


def _evaluate(args, parser) -> int:
    from .data.datasets import DatasetUnavailable
    from .eval.extractors import WeightsUnavailable
    from .runs import load_generator
    run = Path(args.run)
    weights = "best.pt" if args.best else "checkpoint.pt"
    spec, meta = _run_folder(parser, run, weights)
    metric = args.metric or spec.task.metrics[0]
    problem = spec.task.check_metric(metric, meta["dataset"])
    if problem:
        parser.error(problem)
    device = _device(parser, args.device)
    G, meta = load_generator(run, device, weights, ema=not args.raw)
    try:
        scores = spec.task.evaluate(G, meta, metric, args.n, args.split, args.batch_size, args.seed, device)
    except (WeightsUnavailable, DatasetUnavailable, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{run} ({meta['model']} on {meta['dataset']}, {meta['generator']} of {weights} at step {meta['step']}):")
    for key, value in scores.items():
        if key in ("protocol", "n", "n_classes", "n_modes") or key.endswith("_std") or value is None:
            continue
        of = {"classes_covered": scores.get("n_classes"), "modes_covered": scores.get("n_modes")}.get(key)
        std = scores.get(f"{key}_std")
        print(f"  {key:<16} {value:.4g}" + (f" +- {std:.2g}" if std is not None else "") + (f" of {of}" if of else ""))
    print(f"  protocol: {scores['protocol']}")
    if args.record:
        path = _write_record(Path(args.record), args, meta, scores, device)
        print(f"wrote the record {path}")
    return 0


def _write_record(path: Path, args, meta: dict, scores: dict, device) -> Path:
    """A reference run's record: enough to cite its numbers and to reproduce them (the same commands)."""
    from .core.checkpoint import write_text_atomic
    from .core.runtime import environment
    record = {
        "model": meta["model"], "dataset": meta["dataset"], "generator": meta["generator"],
        "train": {"parts": meta.get("parts", []), "seed": meta["train"]["seed"], "steps": meta["step"],
                  "seconds": meta.get("seconds"), "config": meta["train"]},
        "evaluate": {"command": args.command_line, "environment": environment(device)},
        "scores": {k: v for k, v in scores.items() if k != "protocol"}, "protocol": scores["protocol"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, json.dumps(record, indent=2) + "\n")

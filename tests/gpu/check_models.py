"""Every registry model x precision x memory layout, a few training steps each, through the real Trainer.

    python tests/gpu/check_models.py                       # CUDA: fp32/fp16/bf16 x NCHW/NHWC on mnist-5k
    python tests/gpu/check_models.py --device cpu          # CPU: fp32 only (channels_last is CUDA-only)
    python tests/gpu/check_models.py --datasets shapes --precisions auto --channels-last on --json rows.jsonl

Each combination builds G and D the way the CLI (`python -m ganhelpers train`) does: the model's own
`build` (with its `z_dim`), `steps` and `defaults`, and its task's sampler (for the paired models, pix2pix, a
`PairSampler` over `data.pairs.make_pairs(data)`) with the fixed grid the task picks (held-out pairs for
pix2pix). It trains `--steps` G steps
(log_every 2) and passes when:
- the Trainer runs in the asked precision (its autocast dtype) and layout (NHWC weights on CUDA);
- it ran every step, logged a history row every log_every steps, and every logged value is finite;
- G's and D's weights are finite and at least one optimiser step changed G's weights
  (an fp16 run whose GradScaler skipped every step fails here);
- G's fixed-input samples (eval mode) have the data's shape and are finite.
One row per combination: model, precision, channels_last, steps, seconds, final loss_D / loss_G and
PASS/FAIL with the error's last line. Exit code 1 when any combination fails.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's ganhelpers, installed or not

import torch  # noqa: E402

PRECISION = {"off": "fp32", "fp16": "fp16", "bf16": "bf16"}
DTYPE = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def available_precisions(device: torch.device) -> list[str]:
    """TrainConfig.amp values to test: fp32 only off CUDA; bf16 only where the GPU computes it natively."""
    if device.type != "cuda":
        return ["off"]
    return ["off", "fp16"] + (["bf16"] if torch.cuda.get_device_capability(device)[0] >= 8 else [])


def combinations(device: torch.device, precisions=None, channels_last="both") -> list[tuple[str, bool]]:
    """(amp, channels_last) pairs. `precisions`: amp names, "auto" meaning bf16 where native else fp16."""
    usable = available_precisions(device)
    if precisions is None:
        amps = usable
    else:
        auto = "bf16" if "bf16" in usable else "fp16"
        amps = list(dict.fromkeys(auto if p == "auto" and device.type == "cuda" else ("off" if p == "auto" else p)
                                  for p in precisions))
        unknown = [p for p in amps if p not in PRECISION]
        if unknown:
            raise SystemExit(f"unknown precision {unknown}: use off, fp16, bf16 or auto")
        amps = [p for p in amps if p in usable]  # fp16/bf16 on a CPU, bf16 on a pre-Ampere GPU: not tested
    layouts = {"both": [False, True], "on": [True], "off": [False]}[channels_last]
    if device.type != "cuda":
        layouts = [False]  # the Trainer ignores channels_last off CUDA
    return [(amp, cl) for amp in amps for cl in layouts]


_FIXED: dict = {}  # (task kind, dataset, seed) -> the callbacks that set the fixed inputs: made once per task


def training_source(spec, data, batch_size: int, device: torch.device, seed: int = 0):
    """What the CLI's `train` feeds the Trainer, asked of the model's task: its sampler (the dataset's batches,
    or for a paired model a PairSampler over make_pairs(data)) and the task's callbacks that choose what the
    fixed grid shows (held-out conditions for a paired model; none for a noise model). The callbacks that
    write pictures to a run folder are left out."""
    from ganhelpers.core import FixedInputs
    key = (spec.task.kind, data.name, seed)
    if key not in _FIXED:
        _FIXED[key] = [cb for cb in spec.task.callbacks(Path("unused"), data.name, seed, every=10**9)
                       if isinstance(cb, FixedInputs)]
    return spec.task.sampler(data, batch_size, device, seed), _FIXED[key]


def _snapshot(net) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def check_one(model: str, data, amp: str, channels_last: bool, device: torch.device, steps: int = 6,
              batch_size: int = 64, log_every: int = 2, seed: int = 0) -> dict:
    """Train one combination; a row dict with result PASS, FAIL or SKIP."""
    from ganhelpers.core import TrainConfig, Trainer, seed_everything
    from ganhelpers.models import MODELS
    row = {"section": "models", "model": model, "dataset": data.name, "precision": PRECISION[amp],
           "channels_last": channels_last and device.type == "cuda", "steps": 0, "seconds": None,
           "loss_D": None, "loss_G": None, "result": "FAIL", "note": ""}
    spec = MODELS[model]
    problem = spec.check(tuple(data.img_shape), data.n_classes)
    if problem:
        row.update(result="SKIP", note=problem)
        return row
    trainer = G = D = None
    try:
        seed_everything(seed)
        G, D = spec.build(data.img_shape, data.n_classes, spec.z_dim)
        d_step, g_step = spec.steps()
        config = TrainConfig(**{**spec.defaults, "steps": steps, "batch_size": batch_size, "seed": seed,
                                "device": str(device), "log_every": log_every, "amp": amp,
                                "channels_last": channels_last, "progress": False})
        source, callbacks = training_source(spec, data, batch_size, device, seed)
        trainer = Trainer(G, D, d_step, g_step, source, config, callbacks=callbacks,
                          meta={"model": model, "dataset": data.name})
        problems = []
        if trainer.amp_dtype != DTYPE[amp]:
            problems.append(f"autocast dtype {trainer.amp_dtype}, asked amp={amp!r}")
        if row["channels_last"]:
            nchw = [n for net in (trainer.G, trainer.D) for n, p in net.named_parameters()
                    if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last)]
            if not trainer.channels_last or nchw:
                problems.append(f"channels_last asked but weights are NCHW: {nchw[:2]}")
        before = _snapshot(trainer.G)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        history = trainer.fit()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        row["seconds"] = time.perf_counter() - start
        row["steps"] = trainer.step
        row["loss_D"] = history["loss_D"][-1] if history.get("loss_D") else None
        row["loss_G"] = history["loss_G"][-1] if history.get("loss_G") else None
        if trainer.step != steps:
            problems.append(f"ran {trainer.step} of {steps} steps ({trainer.stopped_reason})")
        rows_expected = math.ceil(steps / log_every)
        if len(history["step"]) != rows_expected:
            problems.append(f"{len(history['step'])} history rows, expected {rows_expected}")
        for key in ("loss_D", "loss_G"):
            if not history.get(key):
                problems.append(f"history has no {key}")
        bad = [k for k, values in history.items() if k != "step"
               for v in values if not (isinstance(v, (int, float)) and math.isfinite(v))]
        if bad:
            problems.append(f"non-finite history values in {sorted(set(bad))}")
        if not trainer.weights_finite():
            problems.append("non-finite weights")
        changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, trainer.G.parameters()))
        if not changed:
            scale = trainer.scaler_G.get_scale() if trainer.scaler_G.is_enabled() else None
            problems.append("no optimiser step changed G's weights"
                            + (f" (fp16 GradScaler scale now {scale:g}: every step skipped?)" if scale else ""))
        samples = trainer.sample_fixed()
        if tuple(samples.shape[1:]) != tuple(data.img_shape) or not torch.isfinite(samples).all():
            problems.append(f"samples {tuple(samples.shape)} (finite: {bool(torch.isfinite(samples).all())}), "
                            f"expected (n, {', '.join(map(str, data.img_shape))})")
        row.update(result="FAIL" if problems else "PASS", note="; ".join(problems))
    except Exception as e:  # noqa: BLE001: every failure becomes a row; the traceback goes to stderr
        traceback.print_exc()
        if trainer is not None:
            row["steps"] = trainer.step
        row["note"] = traceback.format_exception_only(type(e), e)[-1].strip()
    finally:
        del trainer, G, D
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def _fmt(value, spec=".4g"):
    return "" if value is None else format(value, spec)


def markdown(rows: list[dict]) -> str:
    lines = ["| model | dataset | precision | channels_last | steps | seconds | loss_D / loss_G | result | note |",
             "| --- | --- | --- | --- | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        losses = f"{_fmt(r['loss_D'])} / {_fmt(r['loss_G'])}" if r["loss_D"] is not None else ""
        note = str(r["note"]).replace("|", "\\|")
        lines.append(f"| {r['model']} | {r['dataset']} | {r['precision']} | {'yes' if r['channels_last'] else 'no'} "
                     f"| {r['steps']} | {_fmt(r['seconds'], '.2f')} | {losses} | {r['result']} | {note} |")
    return "\n".join(lines)


def _append(path, row: dict) -> None:
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def load_data(name: str, n: int | None = None):
    from ganhelpers.data import load_dataset
    return load_dataset(name, "train", n=n)


def main(argv=None) -> int:
    from ganhelpers.models import MODELS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: every registry model)")
    p.add_argument("--datasets", default="mnist-5k", help="comma-separated embedded sets: mnist-5k, shapes")
    p.add_argument("--precisions", help="comma-separated TrainConfig.amp values: off, fp16, bf16, auto "
                   "(default: off, fp16 and, on compute capability >= 8, bf16)")
    p.add_argument("--channels-last", default="both", choices=["both", "on", "off"])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--log-every", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--images", type=int, default=2000, help="images of the generated `shapes` set")
    p.add_argument("--json", help="append one JSON line per row to this file (check.sh's table reads it)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU found: use --device cpu", file=sys.stderr)
        return 2
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}: choose from {', '.join(MODELS)}")
    combos = combinations(device, args.precisions.split(",") if args.precisions else None, args.channels_last)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"check_models on {device} ({where}), torch {torch.__version__}: {len(models)} models x "
          f"{[PRECISION[a] + ('+NHWC' if c else '') for a, c in combos]}, {args.steps} steps, batch {args.batch_size}",
          flush=True)
    rows = []
    for name in args.datasets.split(","):
        try:
            data = load_data(name, args.images if name == "shapes" else None)
        except Exception as e:  # noqa: BLE001: e.g. a dataset that cannot load here
            traceback.print_exc()
            rows.append({"section": "models", "model": "(all)", "dataset": name, "precision": "", "channels_last": False,
                         "steps": 0, "seconds": None, "loss_D": None, "loss_G": None, "result": "FAIL",
                         "note": f"loading {name}: " + traceback.format_exception_only(type(e), e)[-1].strip()})
            _append(args.json, rows[-1])
            continue
        for model in models:
            for amp, cl in combos:
                row = check_one(model, data, amp, cl, device, args.steps, args.batch_size, args.log_every)
                rows.append(row)
                _append(args.json, row)  # row by row: a run stopped by check.sh's time limit keeps what it did
                print(f"  {row['result']:<4} {model:<15} {name:<9} {row['precision']:<5} "
                      f"{'NHWC' if row['channels_last'] else 'NCHW'} {_fmt(row['seconds'], '6.2f')} s  {row['note']}",
                      flush=True)
    print(markdown(rows))
    failed = sum(r["result"] == "FAIL" for r in rows)
    print(f"{len(rows) - failed} of {len(rows)} passed or skipped, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

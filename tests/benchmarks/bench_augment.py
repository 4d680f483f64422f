"""What DiffAugment costs per G step, against the same training without it, measured in one run.

    python tests/benchmarks/bench_augment.py [MODELS] [--steps 60] [--rounds 5] [--policy translation,cutout]
    python tests/benchmarks/bench_augment.py gan --steps 3 --rounds 1   # a smoke run

For each model: the command line's training (the model's spec, its defaults, mnist-5k, batch 64, the CPU) with
D plain and with `Augmented(D, policy)`, alternating over rounds so a machine that gets busier or quieter biases
neither side; the median ratio of seconds per G step (augmented / plain) is the reference recipes' exchange rate:
`python -m ganhelpers reference --variant augment` gives an augmented run `steps / ratio` G steps, so both sides of
the comparison train for the same time. One torch thread, as the reference runs. --record FILE writes the numbers
with the command and the machine (`ganhelpers.records`).
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time

import torch

from ganhelpers.core import Callback, TrainConfig, Trainer, seed_everything
from ganhelpers.data import load_dataset
from ganhelpers.models import get_model
from ganhelpers.nn.augment import Augmented

MODELS = ("gan", "dcgan", "dcgan-improved", "wgan-gp")


def seconds_per_step(model: str, steps: int, policy: str | None, data) -> float:
    """Seconds per G step of `steps` steps after 3 warm-up steps (the clock starts at step 3)."""
    spec = get_model(model)
    seed_everything(0)
    G, D = spec.build(data.img_shape, data.n_classes, spec.z_dim)
    if policy:
        D = Augmented(D, policy)
    clock = {}

    class Clock(Callback):
        def on_step_end(self, trainer):
            if trainer.step == 3:
                clock["start"] = time.perf_counter()

    config = TrainConfig(**{**spec.defaults, "steps": steps + 3, "batch_size": 64, "device": "cpu", "log_every": 50,
                            "progress": False})
    d_step, g_step = spec.steps()
    Trainer(G, D, d_step, g_step, spec.task.sampler(data, 64, torch.device("cpu"), 0), config,
            callbacks=[Clock()]).fit()
    return (time.perf_counter() - clock["start"]) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--policy", default="translation,cutout")
    parser.add_argument("--record", help="write the results to this JSON record")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset("mnist-5k", "train")
    started, results = time.time(), {}
    for model in args.models:
        plain, augmented = [], []
        for _ in range(args.rounds):
            plain.append(seconds_per_step(model, args.steps, None, data))
            augmented.append(seconds_per_step(model, args.steps, args.policy, data))
        # rounded once, so that the printed ratio is the recorded one (printing the unrounded ratio to 3 places
        # disagreed with the record's 4-place ratio printed to 3 places when its 4th decimal was a 5)
        ratio = round(statistics.median(a / p for a, p in zip(augmented, plain)), 4)
        results[model] = {"plain_ms": [round(1e3 * s, 2) for s in plain],
                          "augmented_ms": [round(1e3 * s, 2) for s in augmented], "ratio": ratio}
        print(f"{model:>15}: plain {1e3 * statistics.median(plain):7.1f} ms/step, with {args.policy} "
              f"{1e3 * statistics.median(augmented):7.1f} ms/step: {ratio:.3f} times as long (median of "
              f"{args.rounds} paired rounds)", flush=True)
    if args.record:
        from ganhelpers.records import save_record
        save_record(args.record, "python tests/benchmarks/bench_augment.py " + shlex.join(argv or sys.argv[1:]),
                    {"steps": args.steps, "rounds": args.rounds, "policy": args.policy, "threads": 1,
                     "dataset": "mnist-5k", "batch_size": 64}, results, started=started, benchmark="bench_augment")
    return 0


if __name__ == "__main__":
    sys.exit(main())

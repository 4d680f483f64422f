"""PacGAN's Table 1 (Lin et al. 2018), run again on a CPU: modes captured and high-quality samples of notebook 00's
GAN, the same GAN with a packed discriminator (PacGAN2) and WGAN-GP, on the 2-D ring and grid, 10 trials each,
beside the paper's rows.

    python -m ganhelpers pacgan                        # every mixture and method, 10 trials, two at a time
    python -m ganhelpers pacgan --trials 2 --steps 500 --out /tmp/t.json   # a quick look (not the recorded run)
    python -m ganhelpers pacgan --networks paper --steps 20000 --out ...   # the paper's networks (slow on a CPU)

The protocol of the paper and of its authors' code (github.com/fjxmlzn/PacGAN, synthetic_data_experiments/*/config.py
and pacgan_task.py) for the data and the score; notebook 00's lab for the networks and the training:
- data: 100,000 points per trial from the ring (8 modes on the unit circle, std 0.01: notebook 00's ring8 scaled
  by 1/2) or the grid (25 modes at -4, -2, 0, 2, 4 on both axes, std 0.05: notebook 00's grid25);
- score: 2,500 samples of G (eval mode) after training; a sample is high quality within 3 std of its nearest mode;
  a mode is captured by one high-quality sample (`mixture_scores(..., min_share=0)`); mean and standard error
  over the trials (trial t: seed t for the data, the weights and the training);
- networks "lab" (default): notebook 00's, G 2-D noise -> 3 x 128 LeakyReLU -> point, D the same shape -> logit;
  GAN and PacGAN2 as notebook 00's classic GAN (non-saturating loss, Adam 1e-3, betas (0.5, 0.999), 4,000 steps of
  256 packs); PacGAN2's D reads two samples at once (4 inputs), all real or all fake (`models.pacgan.Packed`);
  WGAN-GP as notebook 00's (penalty weight 0.1, 5 critic steps per G step, Adam 1e-4, betas (0.5, 0.9), 3,000 G
  steps of 256). The paper's networks are larger (G 4 x 400 with batch norm and ReLU, D 3 maxout layers of 200 units
  with 5 pieces) and train 400 epochs of 100,000 points (400,000 steps of 100 packs, Adam 1e-4, beta1 0.8): they
  decide the baseline's score as much as the protocol does;
- networks "paper": those networks and settings (`models.pacgan`), for `--steps` steps; the authors update G and D
  at once from one forward pass, the package's Trainer alternates (D's step, then G's).
- WGAN-GP is not in the paper's table.

Writes data/records/pacgan/table1.json (every trial's scores); `format_table` prints it beside the paper's rows.
Taught in 00_gan_game.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from .records import CHECKOUT, RECORDS_DIR, recorded, save_record
from .records import cite as cite_record

RECORD = Path("pacgan/table1.json")  # under data/records
SHIPPED = Path(__file__).resolve().parent / "assets" / "pacgan_table1.json"  # its copy in the package (for Colab)
GENERATORS = SHIPPED.with_name("pacgan_ring_trial0.pt")  # the recorded run's trial 0 on the ring, each method's G
TRIALS, N_TRAIN, N_SAMPLES = 10, 100_000, 2_500
MIXTURES = ("ring", "grid")
METHODS = ("GAN", "PacGAN2", "WGAN-GP")
NETWORKS = ("lab", "paper")
LAB_STEPS = {"GAN": 4_000, "PacGAN2": 4_000, "WGAN-GP": 3_000}  # notebook 00's full mode
# the paper's Table 1 (mean +- standard error over 10 trials): modes captured, high-quality samples (%)
PAPER = {("ring", "GAN"): (6.3, 0.5, 98.2, 0.2), ("ring", "PacGAN2"): (7.9, 0.1, 95.6, 2.0),
         ("grid", "GAN"): (17.3, 0.8, 94.8, 0.7), ("grid", "PacGAN2"): (23.8, 0.7, 91.3, 0.8)}


def protocol_data(mixture: str, n: int = N_TRAIN, seed: int = 0):
    """The training points of one trial, a `PointSet`: PacGAN's ring (radius 1, std 0.01: the package's "ring8"
    scaled by 1/2) or grid (the package's "grid25", the same as PacGAN's)."""
    from .data.synthetic import make_mixture
    if mixture not in MIXTURES:
        raise ValueError(f"unknown mixture {mixture!r}: use one of {', '.join(MIXTURES)}")
    data = make_mixture("ring8" if mixture == "ring" else "grid25", n, seed)
    if mixture == "ring":
        data.points, data.centers, data.std = data.points / 2, data.centers / 2, data.std / 2  # radius 1, std 0.01
    return data


def build(method: str, networks: str = "lab"):
    """(G, D, (d_step, g_step), TrainConfig settings) of one method under the protocol (the module's docstring)."""
    from .models.mlp import MLPDiscriminator, MLPGenerator
    from .models.pacgan import MaxoutDiscriminator, PacGANGenerator, Packed
    from .models.steps import bce_steps, wgan_gp_steps
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if networks not in NETWORKS:
        raise ValueError(f"unknown networks {networks!r}: use one of {', '.join(NETWORKS)}")
    lab = networks == "lab"
    G = MLPGenerator(2, (2,), hidden=(128,) * 3, batch_norm=False, output="linear") if lab else PacGANGenerator()
    packs = 256 if lab else 100  # samples (WGAN-GP) or packs (GAN, PacGAN2) per batch
    if method == "WGAN-GP":
        critic = MLPDiscriminator((2,), hidden=(128,) * 3) if lab else MaxoutDiscriminator()
        return G, critic, wgan_gp_steps(gp_weight=0.1), dict(batch_size=packs, n_critic=5, lr_G=1e-4, lr_D=1e-4,
                                                            betas=(0.5, 0.9))
    m = 2 if method == "PacGAN2" else 1
    D = MLPDiscriminator((2 * m,), hidden=(128,) * 3) if lab else MaxoutDiscriminator(packing=m)
    lr, betas = (1e-3, (0.5, 0.999)) if lab else (1e-4, (0.8, 0.999))
    return G, Packed(D, m), bce_steps(), dict(batch_size=packs * m, lr_G=lr, lr_D=lr, betas=betas)


@torch.no_grad()
def score(G, data, seed: int) -> dict:
    """Modes captured (one high-quality sample each) and the high-quality share of N_SAMPLES samples of G."""
    from .eval.scores import mixture_scores
    from .nn.conventions import eval_mode
    z = torch.randn(N_SAMPLES, G.z_dim, generator=torch.Generator().manual_seed(seed))  # (2500, 2)
    with eval_mode(G):
        points = G(z)  # (2500, 2)
    return mixture_scores(points, data.centers, data.std, min_share=0)


def run_trial(mixture: str, method: str, trial: int, steps: int | None = None, networks: str = "lab",
              evaluations: int = 8, keep_generator: bool = False) -> dict:
    """Train one trial (seed = trial) on the CPU and score it `evaluations` times along the way; steps: G steps
    (default: notebook 00's full mode, `LAB_STEPS`). Returns {"modes", "high_quality" (at the end), "steps",
    "curve" [(step, modes, high_quality)], "seconds"}, and the trained "G" and "data" with `keep_generator`."""
    from .core.callbacks import Callback
    from .core.config import TrainConfig
    from .core.runtime import seed_everything
    from .core.trainer import Trainer
    steps = steps or LAB_STEPS[method]
    data = protocol_data(mixture, seed=trial)
    seed_everything(trial)  # the networks' initial weights
    G, D, (d_step, g_step), settings = build(method, networks)
    every = max(1, steps // evaluations)
    curve = []

    class Scores(Callback):
        def on_step_end(self, trainer):
            if trainer.step % every == 0 or trainer.step == steps:
                s = score(trainer.G, data, seed=10_000 + trial)
                curve.append((trainer.step, s["modes_covered"], round(s["high_quality"], 4)))

    config = TrainConfig(steps=steps, seed=trial, device="cpu", log_every=max(1, steps // 10), progress=False,
                         **settings)
    started = time.perf_counter()
    Trainer(G, D, d_step, g_step, data, config, callbacks=[Scores()]).fit()
    out = {"modes": curve[-1][1], "high_quality": curve[-1][2], "steps": steps, "curve": curve,
           "seconds": round(time.perf_counter() - started, 1)}
    return {**out, "G": G, "data": data} if keep_generator else out


def write_shipped_and_readme(readme: Path = CHECKOUT / "README.md") -> None:
    """Copy the recorded run into the package (`SHIPPED`) and write its table into the README."""
    from .core.checkpoint import write_text_atomic
    from .records import replace_block
    text = (RECORDS_DIR / RECORD).read_text()
    write_text_atomic(SHIPPED, text)
    readme.write_text(replace_block(readme.read_text(), README_START, README_END, markdown_table(json.loads(text))))


def export_generators(path: Path = GENERATORS, mixture: str = "ring", trial: int = 0) -> Path:
    """Train `trial` of every method on `mixture` again, as the recorded run did, check that each scores what the
    record says (a trial repeats with one thread on the same torch and CPU: a mismatch is an error, nothing is
    written), and write the three generators (fp16 state dicts) with their scores, atomically."""
    from .core.checkpoint import save_checkpoint
    record = json.loads((RECORDS_DIR / RECORD).read_text())
    if record["settings"]["networks"] != "lab":
        raise ValueError("only the lab networks' generators are exported (the notebook rebuilds them)")
    torch.set_num_threads(1)
    out = {"mixture": mixture, "trial": trial, "record_file": str(RECORD), "generators": {}}
    for method in METHODS:
        steps = record["settings"]["steps"][method]
        mine = run_trial(mixture, method, trial, steps, keep_generator=True)
        recorded_trial = next(t for t in record["results"]["trials"][f"{mixture}/{method}"] if t["trial"] == trial)
        if [list(point) for point in mine["curve"]] != recorded_trial["curve"]:  # JSON made the tuples lists
            raise RuntimeError(f"{method}, trial {trial}: scored {mine['curve']} now, {recorded_trial['curve']} in the "
                               "record: another torch build or CPU? Run `python -m ganhelpers pacgan` again first")
        state = {k: v.half() for k, v in mine["G"].state_dict().items()}
        out["generators"][method] = {"state": state, "steps": steps, "modes": mine["modes"],
                                     "high_quality": mine["high_quality"]}
    return save_checkpoint(out, path)


def load_generators(path: Path = GENERATORS) -> dict:
    """The shipped generators of the recorded run's trial 0 on the ring: {method: (G in eval mode, float32, on the CPU,
    {"steps", "modes", "high_quality"})}, loaded with `weights_only=True`."""
    from .core.checkpoint import load_checkpoint
    stored = load_checkpoint(path)
    out = {}
    for method, entry in stored["generators"].items():
        G = build(method)[0]  # the lab generator, built where the protocol builds it
        G.load_state_dict({k: v.float() for k, v in entry["state"].items()})
        out[method] = (G.eval(), {k: v for k, v in entry.items() if k != "state"})
    return out


def load_table() -> dict:
    """The recorded run of `python -m ganhelpers pacgan` (the package's copy of data/records/pacgan/table1.json)."""
    return json.loads(SHIPPED.read_text())


def _one_thread_trial(job):
    torch.set_num_threads(1)
    return run_trial(*job)


def mean_and_error(values) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n); 0 for one value), as the paper reports."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std / math.sqrt(n)


def summarize(trials: dict) -> dict:
    """{mixture: {method: {"modes": [mean, se], "high_quality": [mean %, se %], "n": trials}}} from the trials."""
    out = {}
    for key, runs in trials.items():
        mixture, method = key.split("/")
        modes = mean_and_error([r["modes"] for r in runs])
        hq = mean_and_error([100 * r["high_quality"] for r in runs])
        out.setdefault(mixture, {})[method] = {"modes": [round(v, 2) for v in modes],
                                               "high_quality": [round(v, 2) for v in hq], "n": len(runs)}
    return out


def format_table(record: dict) -> str:
    """The record's table beside the paper's rows: modes captured and high-quality samples, mean +- standard error."""
    table, settings = record["results"]["table"], record["settings"]
    lines = [f"{'':34}{'ring: modes (of 8)':>19}{'high quality':>17}{'grid: modes (of 25)':>22}{'high quality':>17}"]

    def cells(modes, hq):
        return f"{modes[0]:>13.1f} +- {modes[1]:<3.1f}{hq[0]:>11.1f}% +- {hq[1]:<3.1f}"

    for method in METHODS:
        if (MIXTURES[0], method) in PAPER:
            row = [cells(PAPER[(m, method)][:2], PAPER[(m, method)][2:]) for m in MIXTURES]
            lines.append(f"{method + ' (paper, 400k steps)':<34}{row[0]}     {row[1]}")
        steps = settings["steps"][method]
        name = f"{method} ({settings['networks']} networks, {steps:,} steps)"
        row = [cells(table[m][method]["modes"], table[m][method]["high_quality"]) for m in MIXTURES]
        lines.append(f"{name:<34}{row[0]}     {row[1]}")
    n = settings["trials"]
    lines.append(f"mean +- standard error over {n} trial{'s' * (n != 1)} (paper: 10), {N_SAMPLES:,} samples each; high "
                 "quality: within 3 std of a mode; a mode is captured by one high-quality sample")
    return "\n".join(lines)


README_START, README_END = "<!-- pacgan:start -->", "<!-- pacgan:end -->"


def markdown_table(record: dict, file: str = str(RECORD)) -> str:
    """The README's table (Markdown) of a record beside the paper's rows, every number cited from the record."""
    settings = record["settings"]

    def cite(key, fmt, value):
        return cite_record(file, key, fmt, value)

    def cells(base):
        return [f"{cite(base + f'.{k}.0', f, v[0])} ± {cite(base + f'.{k}.1', f, v[1])}{unit}"
                for k, f, unit in (("modes", ".1f", ""), ("high_quality", ".1f", " %"))
                for v in [recorded(record, base)[k]]]

    lines = ["| method | networks, G steps | ring: modes (of 8) | ring: high quality | grid: modes (of 25) | "
             "grid: high quality |", "|---|---|---|---|---|---|"]
    for method in METHODS:
        if f"{MIXTURES[0]}/{method}" in record["results"]["paper"]:
            row = []
            for m in MIXTURES:
                key = f"results.paper.{m}/{method}"
                v = record["results"]["paper"][f"{m}/{method}"]
                row += [f"{cite(key + '.0', '.1f', v[0])} ± {cite(key + '.1', '.1f', v[1])}",
                        f"{cite(key + '.2', '.1f', v[2])} ± {cite(key + '.3', '.1f', v[3])} %"]
            lines.append(f"| {method}, the paper | the paper's, 400,000 | " + " | ".join(row) + " |")
        steps = cite(f"settings.steps.{method}", ",", settings["steps"][method])
        row = [c for m in MIXTURES for c in cells(f"results.table.{m}.{method}")]
        lines.append(f"| {method}, this run | {settings['networks']}, {steps} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganhelpers pacgan",
                                     description="Run PacGAN's Table 1 protocol (ganhelpers/pacgan_table.py).")
    parser.add_argument("--trials", type=int, default=TRIALS, help=f"trials per method and mixture (default {TRIALS})")
    parser.add_argument("--steps", type=int, help="G steps per trial (default: notebook 00's full mode, "
                        f"{', '.join(f'{k} {v:,}' for k, v in LAB_STEPS.items())}); needed with --networks paper")
    parser.add_argument("--networks", choices=NETWORKS, default="lab", help="notebook 00's (default) or the paper's")
    parser.add_argument("--jobs", type=int, default=2, help="trials at a time, one thread each (default 2)")
    parser.add_argument("--export", action="store_true",
                        help="only train trial 0 on the ring again, check it against the record, ship its generators")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the record to write (default data/records/{RECORD}, for the default settings only)")
    args = parser.parse_args(argv)
    for name in ("trials", "steps", "jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.export:
        print(f"wrote {export_generators()}")
        return 0
    if args.networks == "paper" and args.steps is None:
        parser.error("--networks paper needs --steps: the paper's 400,000 steps take days on a CPU")
    default = args.trials == TRIALS and args.steps is None and args.networks == "lab"
    if args.out is None and not default:
        parser.error("--out PATH is needed when the trials, steps or networks differ from the recorded run's")
    if args.out is None and not (CHECKOUT / "pyproject.toml").is_file():
        parser.error("the record is written into a source checkout: pass --out PATH")
    out = args.out or RECORDS_DIR / RECORD
    jobs = [(mixture, method, trial, args.steps, args.networks) for mixture in MIXTURES for method in METHODS
            for trial in range(args.trials)]
    started = time.time()
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_one_thread_trial, jobs))
    trials = {}
    for (mixture, method, trial, *_), result in zip(jobs, results):
        trials.setdefault(f"{mixture}/{method}", []).append({"trial": trial, **result})
    command = "python -m ganhelpers pacgan" + ("" if default else " " + " ".join(
        argv if argv is not None else sys.argv[2:]))
    settings = {"networks": args.networks, "steps": {m: args.steps or LAB_STEPS[m] for m in METHODS},
                "trials": args.trials, "n_train": N_TRAIN, "n_samples": N_SAMPLES, "threads_per_trial": 1,
                "jobs": args.jobs, "protocol": __doc__.split("\n\n")[2].strip()}
    results = {"table": summarize(trials), "trials": trials,
               "paper": {f"{k[0]}/{k[1]}": list(v) for k, v in PAPER.items()}}
    path = save_record(out, command, settings, results, started=started, experiment="pacgan-table1")
    if args.out is None:  # the recorded run: the package ships a copy, for notebook 00 on a pip install
        write_shipped_and_readme()
        print(f"wrote {export_generators()}")
    print(format_table(json.loads(Path(path).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

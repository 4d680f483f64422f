"""The README's gallery, generated from the reference set's records (`python -m ganhelpers reference --gallery`).

`write_summary` reads every `data/records/reference/MODEL/seedS.json` (G_ema) and `seedS-raw.json` (G) and
writes `data/records/reference/summary.json`: per model and generator, the mean, standard deviation and values
over the seeds of each score, the G steps and the seconds. `gallery_markdown` turns the summary into the README's
tables, every number followed by the citation of the summary it comes from (so `tests/test_records.py` checks
each); `write_readme_gallery` puts them between the README's `<!-- gallery:start -->` and `<!-- gallery:end -->`
markers, and `tests/test_gallery.py` fails when the README's copy is stale.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from .records import CHECKOUT, RECORDS_DIR, cite, replace_block

SUMMARY = "reference/summary.json"
START, END = "<!-- gallery:start -->", "<!-- gallery:end -->"
MIN_SEEDS = 3  # a recipe change is kept only when it is better on every one of at least this many seeds
NOISE_SCORES = ("fd", "confident", "classes_covered", "accuracy")
PAIR_SCORES = ("l1", "hf_ratio", "judge_accuracy")


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarize(folder: Path = RECORDS_DIR, order=()) -> dict:
    """The summary record of the reference set's records under `folder`/reference (see the module docstring);
    models in `order` first, in that order, then the others by name."""
    models, sources = {}, []
    dirs = [p for p in (Path(folder) / "reference").iterdir() if p.is_dir()]
    rank = {name: i for i, name in enumerate(order)}
    for model_dir in sorted(dirs, key=lambda p: (rank.get(p.name, len(rank)), p.name)):
        runs = sorted((p for p in model_dir.glob("seed*[0-9].json") if p.with_name(f"{p.stem}-raw.json").is_file()),
                      key=lambda p: int(p.stem[4:]))  # seeds scored for both generators (a run may be under way)
        if not runs:
            continue
        entry = {"seeds": [int(p.stem[4:]) for p in runs], "n_seeds": len(runs)}
        for generator, tail in (("G_ema", ""), ("G", "-raw")):
            records = []
            for run in runs:
                path = run.with_name(f"{run.stem}{tail}.json")
                records.append(json.loads(path.read_text()))
                sources.append(str(path.relative_to(folder)))
            scores = [r["scores"] for r in records]
            entry[generator] = {k: _stats([s[k] for s in scores]) for k in scores[0]
                                if isinstance(scores[0][k], (int, float)) and all(s.get(k) is not None for s in scores)}
            if generator == "G_ema":
                entry["steps"] = records[0]["train"]["steps"]
                entry["seconds"] = _stats([r["train"]["seconds"] for r in records])
                entry["protocol"] = records[0]["protocol"]
                entry["task"] = "pairs" if "l1" in scores[0] else "noise"
        models[model_dir.name] = entry
    _decide(models)
    return {"summary": "the reference set", "command": "python -m ganhelpers reference --gallery",
            "sources": sorted(sources), "models": models}


def paired(base: dict, base_seeds: list[int], new: dict, new_seeds: list[int]) -> dict:
    """A change's paired comparison over the seeds both sides ran (same seed: same data order and initial weights):
    each side's values, the differences new - base, on how many seeds the change gave a lower (better) score, and
    the verdict: kept when lower on every seed, over at least `MIN_SEEDS` seeds (None: too few seeds to decide)."""
    seeds = [s for s in base_seeds if s in new_seeds]
    before = [base["values"][base_seeds.index(s)] for s in seeds]
    after = [new["values"][new_seeds.index(s)] for s in seeds]
    lower = sum(a < b for a, b in zip(after, before))
    return {"seeds": seeds, "base": before, "new": after, "difference": [a - b for a, b in zip(after, before)],
            "base_mean": statistics.fmean(before), "new_mean": statistics.fmean(after), "lower_on": lower,
            "kept": (lower == len(seeds)) if len(seeds) >= MIN_SEEDS else None}


def _score(entry: dict) -> tuple[str, str]:
    """The score that decides a model's changes, and its format: FD for noise-to-image, held-out L1 for Pix2Pix."""
    return ("fd", ".1f") if entry["task"] == "noise" else ("l1", ".4f")


def _decide(models: dict) -> None:
    """Add the recipe's decisions to the summary's entries: "ema" (G_ema against G, the same runs, so equal time)
    and "generator" (G_ema where that change is kept, else G); a variant's "versus_recipe" (its runs against the
    recipe's, on each generator, for the same time) and "kept" (on the generator the recipe samples)."""
    for entry in models.values():
        score = _score(entry)[0]
        entry["ema"] = paired(entry["G"][score], entry["seeds"], entry["G_ema"][score], entry["seeds"])
        entry["generator"] = "G_ema" if entry["ema"]["kept"] else "G"
    for name, entry in models.items():
        base, _, variant = name.rpartition("-")
        if variant in CHANGES and base in models:  # a change the gallery can name: MODEL-VARIANT
            recipe, score = models[base], _score(entry)[0]
            entry.update(variant_of=base, variant=variant, versus_recipe={
                g: paired(recipe[g][score], recipe["seeds"], entry[g][score], entry["seeds"]) for g in ("G_ema", "G")})
            entry["kept"] = entry["versus_recipe"][recipe["generator"]]["kept"]


def write_summary(folder: Path = RECORDS_DIR, order=()) -> Path:
    from .core.checkpoint import write_text_atomic
    path = Path(folder) / SUMMARY
    return write_text_atomic(path, json.dumps(summarize(folder, order), indent=2) + "\n")


def _cite(key: str, fmt: str, value) -> str:
    return cite(SUMMARY, key, fmt, value)


def _mean_std(summary: dict, model: str, generator: str, score: str, fmt: str) -> str:
    stats = summary["models"][model][generator].get(score)
    if stats is None:
        return "–"
    base = f"models.{model}.{generator}.{score}"
    if len(stats["values"]) == 1:  # one seed: no spread to show
        return _cite(base + ".mean", fmt, stats["mean"])
    return f"{_cite(base + '.mean', fmt, stats['mean'])} ± {_cite(base + '.std', fmt, stats['std'])}"


# (task, header, image width, image alt text, [(generator, score, format)]) of each table; generator "recipe": the
# one the recipe samples (the summary's decision, in the generator column)
TABLES = (
    ("noise", "| model | samples (seed 0) | generator | G steps | seeds | seconds | FD ↓ G_ema | FD ↓ G | confident | "
              "classes | class accuracy |", 192, "samples",
     [("G_ema", "fd", ".1f"), ("G", "fd", ".1f"), ("recipe", "confident", ".0%"), ("recipe", "classes_covered", ".1f"),
      ("recipe", "accuracy", ".1%")]),
    ("pairs", "| model | input \\| output \\| target (seed 0) | generator | G steps | seeds | seconds | L1 ↓ G_ema | "
              "L1 ↓ G | sharpness | judge reads the target's class |", 270, "input, output, target",
     [("G_ema", "l1", ".4f"), ("G", "l1", ".4f"), ("recipe", "hf_ratio", ".2f"), ("recipe", "judge_accuracy", ".1%")]),
)
PAIRS_INTRO = ("Pix2Pix (edges → digit, scored on 1,000 held-out test pairs: L1 per pixel on [-1, 1], the sharpness ratio "
               "of high-frequency energy, outputs / targets, and the judge's reading of the outputs):")


def gallery_markdown(summary: dict) -> str:
    """The README's gallery tables (Markdown) from a summary record: one row per model, every number cited."""
    lines = []
    for task, header, width, alt, columns in TABLES:
        models = [m for m, e in summary["models"].items() if e["task"] == task and "variant_of" not in e]
        if not models:
            continue
        if lines:
            lines += ["", PAIRS_INTRO, ""]
        lines += [header, "|---" * header.count(" | ") + "|---|"]
        for m in models:
            e = summary["models"][m]
            cells = [f"| `{m}`", f'<img src="data/gallery/{m}.png" width="{width}" alt="{m}: {alt}">', e["generator"],
                     _cite(f"models.{m}.steps", ",", e["steps"]), _cite(f"models.{m}.n_seeds", "d", e["n_seeds"]),
                     _cite(f"models.{m}.seconds.mean", ",.0f", e["seconds"]["mean"])]
            cells += [_mean_std(summary, m, e["generator"] if generator == "recipe" else generator, score, fmt)
                      for generator, score, fmt in columns]
            lines.append(" | ".join(cells) + " |")
    lines += ["", CHANGES_INTRO, "", CHANGES_HEADER, "|---" * CHANGES_HEADER.count(" | ") + "|---|"]
    for m, e in summary["models"].items():
        if "variant_of" in e:
            continue
        lines.append(_change_row(f"models.{m}.ema", e["ema"], "G_ema instead of G (the same runs)", m, e))
        for v, ve in summary["models"].items():
            if ve.get("variant_of") == m:
                g = e["generator"]
                lines.append(_change_row(f"models.{v}.versus_recipe.{g}", ve["versus_recipe"][g],
                                         f"{CHANGES[ve['variant']]} ({_cite(f'models.{v}.steps', ',', ve['steps'])} "
                                         f"steps: the same time), {g}", m, e))
    return "\n".join(lines) + "\n"


CHANGES = {"augment": "DiffAugment, translation and cutout"}  # variant -> what the change is, in words
CHANGES_INTRO = ("Recipe changes, each measured against the recipe at equal time on the same seeds (paired: same data "
                 "order, same initial weights), on FD (L1 for Pix2Pix); a change is kept only when it scores lower on "
                 f"every one of at least {MIN_SEEDS} seeds:")
CHANGES_HEADER = "| model | change | seeds | score without | score with | lower on | kept |"


def _change_row(key: str, comparison: dict, change: str, model: str, entry: dict) -> str:
    fmt = _score(entry)[1]
    kept = {True: "yes", False: "no", None: "not yet (too few seeds)"}[comparison["kept"]]
    return " | ".join([f"| `{model}`", change, ", ".join(map(str, comparison["seeds"])),
                       _cite(f"{key}.base_mean", fmt, comparison["base_mean"]),
                       _cite(f"{key}.new_mean", fmt, comparison["new_mean"]),
                       f"{_cite(key + '.lower_on', 'd', comparison['lower_on'])} of {len(comparison['seeds'])}",
                       kept]) + " |"


def readme_with_gallery(readme: str, summary: dict) -> str:
    """The README's text with its gallery markers' contents replaced by the tables of `summary`."""
    return replace_block(readme, START, END, gallery_markdown(summary))


def write_readme_gallery(readme: Path = CHECKOUT / "README.md", folder: Path = RECORDS_DIR, order=()) -> Path:
    """Write the summary record (models in `order` first), then the README's gallery from it."""
    write_summary(folder, order)
    summary = json.loads((Path(folder) / SUMMARY).read_text())
    readme.write_text(readme_with_gallery(readme.read_text(), summary))
    return readme

"""ganhelpers/gallery.py: the summary of the reference records (mean and spread over seeds), the README's tables
with a citation on every number, and the README's committed gallery being the one its records give."""
import json

import pytest

from ganhelpers import gallery
from ganhelpers.records import check_citations, citations
from tests.helpers import REPO


def _record(folder, model, seed, tail, scores, steps=100, seconds=10.0):
    path = folder / "reference" / model / f"seed{seed}{tail}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"train": {"steps": steps, "seconds": seconds}, "protocol": "p", "scores": scores}))


@pytest.fixture
def folder(tmp_path):
    for seed, fd in enumerate([10.0, 12.0, 14.0]):
        _record(tmp_path, "dcgan", seed, "", {"fd": fd, "confident": 0.5, "classes_covered": 10, "accuracy": None})
        _record(tmp_path, "dcgan", seed, "-raw", {"fd": fd + 2, "confident": 0.4, "classes_covered": 9,
                                                 "accuracy": None})
        _record(tmp_path, "pix2pix", seed, "", {"l1": 0.04, "hf_ratio": 0.9, "judge_accuracy": 0.97})
        _record(tmp_path, "pix2pix", seed, "-raw", {"l1": 0.05, "hf_ratio": 0.8, "judge_accuracy": 0.96})
    return tmp_path


def test_summary_has_mean_and_spread_over_seeds(folder):
    summary = gallery.summarize(folder)
    dcgan = summary["models"]["dcgan"]
    assert dcgan["seeds"] == [0, 1, 2] and dcgan["G_ema"]["fd"] == {"mean": 12.0, "std": 2.0, "values": [10.0, 12.0, 14.0]}
    assert dcgan["G"]["fd"]["mean"] == 14.0 and "accuracy" not in dcgan["G_ema"]
    assert summary["models"]["pix2pix"]["task"] == "pairs" and len(summary["sources"]) == 12


def test_tables_cite_every_number_and_agree_with_the_summary(folder):
    gallery.write_summary(folder)
    text = gallery.gallery_markdown(json.loads((folder / gallery.SUMMARY).read_text()))
    assert "12.0<!-- record reference/summary.json models.dcgan.G_ema.fd.mean .1f --> ± 2.0" in text
    # steps, seeds, seconds, 4 means with their spreads per row (dcgan: no accuracy); each change: 2 means, lower on
    assert len(citations(text)) == 11 + 11 + 3 + 3
    assert check_citations(text, folder) == []


def test_a_change_is_kept_only_when_better_on_every_seed_of_at_least_three(folder):
    summary = gallery.summarize(folder)
    dcgan = summary["models"]["dcgan"]
    assert dcgan["ema"] == {"seeds": [0, 1, 2], "base": [12.0, 14.0, 16.0], "new": [10.0, 12.0, 14.0],
                            "difference": [-2.0, -2.0, -2.0], "base_mean": 14.0, "new_mean": 12.0, "lower_on": 3,
                            "kept": True}
    assert dcgan["generator"] == "G_ema" and summary["models"]["pix2pix"]["generator"] == "G_ema"  # L1 0.04 < 0.05
    for seed, fd in enumerate([9.0, 12.5, 13.0]):  # lower on seeds 0 and 2 only; G: worse on all
        _record(folder, "dcgan-augment", seed, "", {"fd": fd, "confident": 0.5, "classes_covered": 10})
        _record(folder, "dcgan-augment", seed, "-raw", {"fd": 20.0, "confident": 0.5, "classes_covered": 10})
    variant = gallery.summarize(folder)["models"]["dcgan-augment"]
    assert variant["variant_of"] == "dcgan" and variant["versus_recipe"]["G_ema"]["lower_on"] == 2
    assert variant["kept"] is False and variant["versus_recipe"]["G"]["lower_on"] == 0
    text = gallery.gallery_markdown(gallery.summarize(folder))
    assert "| `dcgan-augment`" not in text and "DiffAugment, translation and cutout" in text and "| no |" in text
    for name in ("seed2.json", "seed2-raw.json"):  # two seeds: too few to decide
        (folder / "reference" / "dcgan" / name).unlink()
    two = gallery.summarize(folder)["models"]["dcgan"]
    assert two["ema"]["kept"] is None and two["generator"] == "G"
    row = next(line for line in gallery.gallery_markdown(gallery.summarize(folder)).splitlines()
               if line.startswith("| `dcgan` | <img"))
    assert " | G | " in row and "models.dcgan.G.confident.mean" in row  # the sampled generator's scores
    assert "models.dcgan.G_ema.confident" not in row and "models.dcgan.G_ema.fd.mean" in row  # both FDs shown


def test_readme_markers(folder):
    summary = gallery.summarize(folder)
    readme = f"# x\n{gallery.START}\nold\n{gallery.END}\ntail\n"
    new = gallery.readme_with_gallery(readme, summary)
    assert new.startswith(f"# x\n{gallery.START}\n| model") and new.endswith(f"{gallery.END}\ntail\n")
    with pytest.raises(ValueError, match="exactly one"):
        gallery.readme_with_gallery("# no markers\n", summary)


def test_the_readme_gallery_is_generated_from_the_committed_records():
    records = REPO / "data" / "records"
    if not (records / gallery.SUMMARY).is_file():
        pytest.skip("no reference set recorded yet")
    assert json.loads((records / gallery.SUMMARY).read_text()) == json.loads(json.dumps(gallery.summarize(records))), \
        "run: python -m ganhelpers reference --gallery"
    readme = (REPO / "README.md").read_text()
    summary = json.loads((records / gallery.SUMMARY).read_text())
    assert gallery.readme_with_gallery(readme, summary) == readme, "run: python -m ganhelpers reference --gallery"

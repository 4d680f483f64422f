"""PacGAN's Table 1 protocol (ganhelpers/pacgan_table.py): its data, its networks, its statistics and its record."""
import json
import math

import pytest
import torch

from ganhelpers import pacgan_table as pt
from ganhelpers.eval.scores import mixture_scores
from ganhelpers.models.pacgan import Packed


def test_the_protocols_mixtures_are_the_papers():
    ring = pt.protocol_data("ring", n=4000, seed=0)
    assert ring.std == pytest.approx(0.01) and torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    assert (ring.points - ring.centers[ring.labels]).std().item() == pytest.approx(0.01, rel=0.05)
    grid = pt.protocol_data("grid", n=4000, seed=0)
    assert grid.std == pytest.approx(0.05) and sorted(set(grid.centers[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    with pytest.raises(ValueError, match="ring, grid"):
        pt.protocol_data("spiral")


def test_pacgan2_packs_two_samples_and_sees_twice_as_many():
    G, D, _, settings = pt.build("PacGAN2")
    assert isinstance(D, Packed) and D.packing == 2 and settings["batch_size"] == 2 * pt.build("GAN")[3]["batch_size"]
    assert D(torch.randn(8, 2)).shape == (4,)
    _, critic, _, wgan = pt.build("WGAN-GP", "paper")
    assert wgan["n_critic"] == 5 and critic(torch.randn(8, 2)).shape == (8,)
    with pytest.raises(ValueError, match="GAN, PacGAN2, WGAN-GP"):
        pt.build("VEEGAN")


def test_a_trial_repeats_and_scores_with_one_sample_per_mode():
    first = pt.run_trial("ring", "PacGAN2", trial=1, steps=6, evaluations=3)
    again = pt.run_trial("ring", "PacGAN2", trial=1, steps=6, evaluations=3)
    assert first["curve"] == again["curve"] and [s for s, *_ in first["curve"]] == [2, 4, 6]
    assert (first["modes"], first["high_quality"]) == first["curve"][-1][1:] and first["steps"] == 6


def test_mixture_scores_min_share_zero_counts_a_mode_with_one_sample():
    centers = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    points = torch.cat([centers[:1].repeat(98, 1), centers[1:2], torch.full((1, 2), 5.0)])  # 98, 1, 0 + one far
    assert mixture_scores(points, centers, 0.01, min_share=0)["modes_covered"] == 2
    assert mixture_scores(points, centers, 0.01)["modes_covered"] == 1  # 10% of the fair share is 3.3 samples
    with pytest.raises(ValueError, match=">= 0"):
        mixture_scores(points, centers, 0.01, min_share=-0.1)


def test_standard_errors_and_the_table_beside_the_papers_rows():
    mean, se = pt.mean_and_error([6, 7, 8, 7])
    assert mean == 7 and se == pytest.approx(math.sqrt(2 / 3) / 2)
    trials = {f"{m}/{k}": [{"modes": v, "high_quality": 0.5} for v in (5, 7)] for m in pt.MIXTURES for k in pt.METHODS}
    table = pt.summarize(trials)
    assert table["ring"]["GAN"] == {"modes": [6.0, 1.0], "high_quality": [50.0, 0.0], "n": 2}
    record = {"settings": {"networks": "lab", "steps": pt.LAB_STEPS, "trials": 2}, "results": {"table": table}}
    text = pt.format_table(record)
    assert "GAN (paper, 400k steps)" in text and "6.3 +- 0.5" in text and "17.3 +- 0.8" in text
    assert "WGAN-GP (paper" not in text and "WGAN-GP (lab networks, 3,000 steps)" in text and "over 2 trials" in text


# the maintainers' command that records the table, run at current versions only; on the floors the shipped
# generators are loaded and scored by test_the_package_ships_the_recorded_table, a trial by the test above
@pytest.mark.slow_e2e
def test_the_command_writes_a_record_ships_trial_0_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
    out = tmp_path / "t.json"
    assert pt.main(["--trials", "1", "--steps", "2", "--jobs", "1", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["experiment"] == "pacgan-table1" and record["command"].startswith("python -m ganhelpers pacgan --trials 1")
    assert set(record["results"]["trials"]) == {f"{m}/{k}" for m in pt.MIXTURES for k in pt.METHODS}
    assert "ring: modes" in capsys.readouterr().out
    (tmp_path / "pacgan").mkdir()
    out.rename(tmp_path / pt.RECORD)
    monkeypatch.setattr(pt, "RECORDS_DIR", tmp_path)
    shipped = pt.export_generators(tmp_path / "g.pt")  # trial 0 again: it must score what the record says
    generators = pt.load_generators(shipped)
    assert set(generators) == set(pt.METHODS)
    G, about = generators["PacGAN2"]
    assert not G.training and G(torch.zeros(5, 2)).shape == (5, 2) and about["steps"] == 2
    assert about["modes"] == record["results"]["trials"]["ring/PacGAN2"][0]["modes"]
    record["results"]["trials"]["ring/GAN"][0]["curve"][-1][1] += 1  # a record that the rerun cannot match
    (tmp_path / pt.RECORD).write_text(json.dumps(record))
    with pytest.raises(RuntimeError, match="another torch build"):
        pt.export_generators(tmp_path / "h.pt")
    assert not (tmp_path / "h.pt").exists()
    for argv, message in ((["--steps", "5"], "--out PATH is needed"), (["--networks", "paper", "--out", "x"], "needs --steps"),
                          (["--trials", "0", "--out", "x"], "at least 1")):
        with pytest.raises(SystemExit):
            pt.main(argv)
        assert message in capsys.readouterr().err


def test_the_package_ships_the_recorded_table():
    from tests.helpers import REPO
    recorded = REPO / "data" / "records" / pt.RECORD
    if not recorded.is_file():
        pytest.skip("the table is not recorded yet")
    assert pt.SHIPPED.read_text() == recorded.read_text(), "run: python -m ganhelpers pacgan"
    table = pt.load_table()
    assert table["settings"]["trials"] == pt.TRIALS and set(table["results"]["table"]) == set(pt.MIXTURES)
    for method, (G, about) in pt.load_generators().items():  # trial 0 on the ring, as recorded
        trial = table["results"]["trials"][f"ring/{method}"][0]
        assert trial["trial"] == 0 and (about["modes"], about["high_quality"]) == (trial["modes"], trial["high_quality"])
    from ganhelpers.records import replace_block
    readme = (REPO / "README.md").read_text()
    assert replace_block(readme, pt.README_START, pt.README_END, pt.markdown_table(table)) == readme, \
        "the README's PacGAN table is stale: run python -m ganhelpers pacgan"


def test_the_readme_table_cites_every_number_from_the_record(tmp_path):
    from ganhelpers.records import check_citations, citations
    trials = {f"{m}/{k}": [{"modes": v, "high_quality": 0.9} for v in (5, 7)] for m in pt.MIXTURES for k in pt.METHODS}
    record = {"settings": {"networks": "lab", "steps": pt.LAB_STEPS, "trials": 2},
              "results": {"table": pt.summarize(trials), "paper": {f"{m}/{k}": list(v) for (m, k), v in pt.PAPER.items()}}}
    (tmp_path / "pacgan").mkdir()
    (tmp_path / pt.RECORD).write_text(json.dumps(record))
    text = pt.markdown_table(record)
    assert "| GAN, the paper | the paper's, 400,000 | 6.3<!--" in text and "| WGAN-GP, this run | lab, 3,000<!--" in text
    assert len(citations(text)) == 4 * 4 + 3 * 9 and check_citations(text, tmp_path) == []

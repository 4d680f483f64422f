"""Records of reference runs and their citations: the README and every notebook agree with the records they
quote (`ganhelpers.records`), and the check catches a number that does not."""
import json

import pytest

from ganhelpers import records
from tests.helpers import NOTEBOOKS, REPO


def _texts():
    """(where, Markdown) of the README and of every notebook's Markdown cells."""
    yield "README.md: ", (REPO / "README.md").read_text()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                yield f"{path.name} cell {i}: ", "".join(cell["source"])


RECORDS = REPO / "data" / "records"  # this checkout's records (the package may be installed elsewhere)


def test_readme_and_notebooks_agree_with_the_records_they_cite():
    assert sum(len(records.citations(text)) for _, text in _texts()) > 0, "no citations found: is the syntax broken?"
    problems = [p for where, text in _texts() for p in records.check_citations(text, RECORDS, where=where)]
    assert not problems, "cited numbers that disagree with their records:\n" + "\n".join(problems)


def test_committed_records_name_how_to_reproduce_them():
    for path in sorted(RECORDS.rglob("*.json")):
        record = json.loads(path.read_text())
        if "notebook" in record:  # a notebook's reference experiment
            assert record["command"] == records.notebook_command(record["notebook"], record["mode"]), path
            assert (NOTEBOOKS / f"{record['notebook']}.ipynb").is_file(), path
            assert record["environment"]["torch"] and record["settings"] and record["results"], path
            continue
        if "summary" in record:  # computed from other records: it must be what they give now
            from ganhelpers.gallery import summarize
            assert record == json.loads(json.dumps(summarize(RECORDS))), f"{path}: run {record['command']}"
            continue
        if "experiment" in record:  # an experiment's own command, e.g. python -m ganhelpers pacgan
            assert record["command"].startswith("python -m ganhelpers ") and record["environment"]["torch"], path
            assert record["settings"] and record["results"], path
            continue
        if "benchmark" in record:  # a benchmark script's run
            script = f"tests/benchmarks/{record['benchmark']}.py"
            assert record["command"].startswith(f"python {script} ") and (REPO / script).is_file(), path
            assert record["environment"]["torch"] and record["results"], path
            continue
        assert record["train"]["parts"] and record["evaluate"]["command"], path
        for part in record["train"]["parts"]:
            assert part["command"].startswith("python -m ganhelpers train ") and part["environment"]["torch"], path
        assert {"seed", "steps", "seconds"} <= set(record["train"]) and record["scores"] and record["protocol"], path


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "gallery").mkdir()
    record = {"train": {"steps": 2272, "parts": [{"environment": {"torch": "2.14.1"}}]},
              "scores": {"fd": 12.834, "confident": 0.5712}}
    (tmp_path / "gallery" / "dcgan.json").write_text(json.dumps(record))
    return tmp_path


def test_the_check_passes_agreeing_numbers_and_catches_each_kind_of_disagreement(folder):
    good = ("FD 12.8<!-- record gallery/dcgan.json scores.fd .1f --> after 2,272<!-- record gallery/dcgan.json "
            "train.steps , --> steps, 57%<!-- record gallery/dcgan.json scores.confident .0% --> confident | "
            "2272<!-- record\n gallery/dcgan.json train.steps -->")
    assert records.citations(good) == [("12.8", "gallery/dcgan.json", "scores.fd"),
                                       ("2,272", "gallery/dcgan.json", "train.steps"),
                                       ("57%", "gallery/dcgan.json", "scores.confident"),
                                       ("2272", "gallery/dcgan.json", "train.steps")]
    assert records.check_citations(good, folder) == []
    assert records.recorded(records.load_record("gallery/dcgan.json", folder), "train.parts.0.environment.torch") \
        == "2.14.1"
    bad = {
        "FD 12.9<!-- record gallery/dcgan.json scores.fd .1f -->": "the record says 12.8",
        "58%<!-- record gallery/dcgan.json scores.confident .0% -->": "the record says 57%",
        "1.0<!-- record gallery/gan.json scores.fd .1f -->": "no record",
        "1.0<!-- record gallery/dcgan.json scores.kid .1f -->": "no 'scores.kid'",
    }
    for text, message in bad.items():
        problems = records.check_citations(text, folder)
        assert len(problems) == 1 and message in problems[0], (text, problems)


def test_a_notebook_record_names_its_command_and_environment(tmp_path):
    path = records.save_notebook_record("03_improved_dcgan", "cpu", {"steps": 800}, {"fd": [29.9, 30.1]},
                                        started=0.0, folder=tmp_path)
    record = records.load_record(path.name, tmp_path)
    assert record["command"].startswith("GANHELPERS_MODE=cpu jupyter nbconvert ")
    assert record["command"].endswith("notebooks/03_improved_dcgan.ipynb")
    assert record["environment"]["threads"] >= 1 and record["seconds"] > 0
    assert records.check_citations("29.9<!-- record 03_improved_dcgan.json results.fd.0 .1f -->", tmp_path) == []


def test_a_notebook_record_is_not_written_outside_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(records, "CHECKOUT", tmp_path)  # no pyproject.toml: as in a pip install
    assert records.save_notebook_record("03_improved_dcgan", "cpu", {}, {}) is None
    assert "not a source checkout" in capsys.readouterr().out

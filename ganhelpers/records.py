"""Records of reference runs, and the citations that quote them in the README and the notebooks.

A record is the JSON that `python -m ganhelpers evaluate RUN --record data/records/NAME.json` writes: every
command that trained the run and the one that scored it, where and when (date, torch, machine, threads), the
seed, steps, seconds and the scores with their protocol. Records of the project's reference runs are committed
under `data/records/`.

Text quotes a recorded number by following it with an invisible citation (an HTML comment, hidden when the
Markdown is rendered):

    the judge's FD was 12.8<!-- record gallery/dcgan.json scores.fd .1f --> after 2,272<!-- record
    gallery/dcgan.json train.steps , --> steps

A notebook's experiment with a reference protocol (a run mode of its own, such as notebook 03's "cpu") writes its
record with `save_notebook_record`, named after the notebook, when that mode runs from a source checkout:

    GANHELPERS_MODE=cpu jupyter nbconvert --to notebook --execute --output-dir /tmp notebooks/03_improved_dcgan.ipynb

That is, `<!-- record FILE KEY [FORMAT] -->` right after the number: FILE relative to `data/records/`, KEY a
dotted path into the record, FORMAT a Python format spec (default: `str`). `check_citations` formats the
recorded value and compares it with the number written before the comment; `tests/test_records.py` runs it
over the README and every notebook's Markdown, so a table or sentence that disagrees with its record fails CI.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
RECORDS_DIR = CHECKOUT / "data" / "records"  # in a source checkout

# a number (digits, separators, a sign, perhaps a %) followed by its citation
CITATION = re.compile(r"(?P<value>[-+]?[\d.,]*\d%?)<!--\s*record\s+(?P<file>[\w./-]+\.json)\s+(?P<key>[\w./-]+)"
                      r"(?:\s+(?P<fmt>[^\s>]+))?\s*-->")


def load_record(file: str, folder: Path = RECORDS_DIR) -> dict:
    """The record data/records/FILE."""
    path = Path(folder) / file
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no record {path}: write it with `python -m ganhelpers evaluate RUN --record "
                                f"{path}`") from None


def cite(file: str, key: str, fmt: str, value) -> str:
    """`value` formatted with `fmt`, followed by its citation of `file` (relative to data/records/) at `key`: what
    `CITATION` reads back and `check_citations` compares."""
    return f"{format(value, fmt)}<!-- record {file} {key} {fmt} -->"


def recorded(record: dict, key: str):
    """The value at a dotted path of a record ("scores.fd", "train.steps", "train.parts.0.environment.torch")."""
    value = record
    for part in key.split("."):
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(f"the record has no {key!r} (stopped at {part!r})") from None
    return value


def check_citations(text: str, folder: Path = RECORDS_DIR, where: str = "") -> list[str]:
    """Every citation in `text` whose written number is not its recorded value formatted as asked, as messages
    (an empty list when all agree). A missing record or key is a message too."""
    problems = []
    for match in CITATION.finditer(text):
        cited = f"{where}{match['value']}<!-- record {match['file']} {match['key']} -->"
        try:
            value = recorded(load_record(match["file"], folder), match["key"])
            expected = format(value, match["fmt"]) if match["fmt"] else str(value)
        except (FileNotFoundError, KeyError, ValueError, TypeError) as e:
            problems.append(f"{cited}: {e}")
            continue
        if expected != match["value"]:
            problems.append(f"{cited}: the record says {expected}")
    return problems


def citations(text: str) -> list[tuple[str, str, str]]:
    """(number as written, record file, key) of every citation in `text`."""
    return [(m["value"], m["file"], m["key"]) for m in CITATION.finditer(text)]


def replace_block(text: str, start: str, end: str, body: str, where: str = "the README") -> str:
    """`text` with what lies between its one `start` marker and its one `end` marker replaced by `body` (the README's
    generated tables live between such HTML comments)."""
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{where} needs exactly one {start} and one {end}")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{body}{end}{tail}"


def notebook_command(notebook: str, mode: str) -> str:
    """The command that runs `notebook` (a name such as "03_improved_dcgan") headless in `mode`."""
    return (f"GANHELPERS_MODE={mode} jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 "
            f"--output-dir /tmp notebooks/{notebook}.ipynb")


def save_record(path: Path, command: str, settings: dict, results: dict, *, device="cpu",
                started: float | None = None, **about) -> Path:
    """Write a record to `path`: `about` (what was run), the command that reproduces it, where and when
    (`environment`), the settings, the wall-clock seconds since `started` (a `time.time()`), and the results.
    `settings` and `results` must be JSON: the protocol and every number a text cites."""
    from .core.checkpoint import write_text_atomic
    from .core.runtime import environment
    record = {**about, "command": command, "environment": environment(device), "settings": settings,
              "seconds": None if started is None else round(time.time() - started, 1), "results": results}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    print(f"wrote the record {path}")
    return path


def save_notebook_record(notebook: str, mode: str, settings: dict, results: dict, *, device="cpu",
                         started: float | None = None, folder: Path | None = None) -> Path | None:
    """Write the record of a notebook's reference experiment to `folder`/NOTEBOOK.json (default: data/records/ of
    a source checkout) and return its path; None, saying so, when there is no checkout to write into (a pip
    install, as on Colab). See `save_record`."""
    if folder is None:
        if not (CHECKOUT / "pyproject.toml").is_file():
            print(f"not a source checkout of ganhelpers: the record of {notebook} is not written")
            return None
        folder = RECORDS_DIR
    return save_record(Path(folder) / f"{notebook}.json", notebook_command(notebook, mode), settings, results,
                       device=device, started=started, notebook=notebook, mode=mode)

"""The one table of tests/gpu/check.sh: every section's rows, grouped, as markdown.

    python3 tests/gpu/report.py row WORK SECTION CHECK [--config C] [--numbers N] [--result R] [--note T]
    python3 tests/gpu/report.py table WORK [--out FILE]     # prints the table; exit 1 when anything failed

WORK is check.sh's scratch folder:
- sections.tsv: one line per section that ran: key, seconds, exit code, status (ran | missing | skipped), note;
- rows-<key>.jsonl: the section's rows (check_models.py --json, bench_train.py --json, `report.py row`);
- rehearsal.xml (pytest --junitxml) and rehearsal.log (its output with -rA): the rehearsal's rows, one per
  test (per notebook), from the XML, else from the -rA summary, else one row from the exit code;
- <key>.log: a section's output, whose last line explains a failure that left no row.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SECTIONS = {  # table order (check.sh runs the rehearsal last, with the time that is left)
    "setup": "setup",
    "models": "a. models",
    "rehearsal": "b. rehearsal",
    "bench": "c. bench_train",
}
BAD = {"FAIL", "ERROR", "TIMEOUT"}
TIMEOUT_CODES = {124, 137}  # timeout(1): limit reached (TERM/INT), or killed
REPO = Path(__file__).resolve().parents[2]


def _clean(text, limit=160) -> str:
    text = " ".join(str(text or "").split())
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _num(value, spec) -> str:
    return "" if value in (None, "") else format(value, spec) if isinstance(value, (int, float)) else str(value)


def _row(section, check, config="", steps="", seconds=None, numbers="", result="", note="") -> dict:
    return {"section": section, "check": check, "config": config, "steps": steps, "seconds": seconds,
            "numbers": numbers, "result": result, "note": note}


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a time limit
    return rows


def model_rows(path: Path) -> list[dict]:
    """check_models.py's rows -> table rows."""
    rows = []
    for r in _read_jsonl(path):
        if "model" not in r:
            rows.append(r)
            continue
        losses = (f"{_num(r.get('loss_D'), '.3g')} / {_num(r.get('loss_G'), '.3g')}"
                  if r.get("loss_D") is not None or r.get("loss_G") is not None else "")
        layout = "NHWC" if r.get("channels_last") else "NCHW"
        rows.append(_row("models", r["model"], f"{r.get('dataset', '')} {r.get('precision', '')} {layout}".strip(),
                         r.get("steps", ""), r.get("seconds"), losses, r.get("result", ""), r.get("note", "")))
    return rows


def _test_name(nodeid: str) -> str:
    """'tests/x.py::test_notebook_full_mode[02_dcgan]' -> '02_dcgan'; no parameter: the test's name."""
    m = re.search(r"\[(.+)\]$", nodeid)
    return m.group(1) if m else nodeid.split("::")[-1]


def _rehearsal_config(nodeid: str) -> str:
    return "notebook, full mode (GANHELPERS_REHEARSAL=1)" if "[" in nodeid else ""


def unfinished_notebooks(rows: list[dict]) -> list[str]:
    """The notebooks (notebooks/*.ipynb of this checkout) without a row: those a time limit cut off."""
    done = {r.get("check") for r in rows}
    return [p.stem for p in sorted((REPO / "notebooks").glob("*.ipynb")) if p.stem not in done]


def rehearsal_rows(xml_path: Path, log_path: Path) -> list[dict]:
    """One row per test: from the JUnit XML if pytest wrote one, else from the -rA summary lines."""
    rows = []
    if xml_path.is_file():
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError:
            root = None
        for case in (root.iter("testcase") if root is not None else []):
            if not case.get("name"):
                continue  # what pytest writes for the test a KeyboardInterrupt (check.sh's time limit) stopped
            result, note = "PASS", ""
            for tag, label in (("failure", "FAIL"), ("error", "ERROR"), ("skipped", "SKIP")):
                child = case.find(tag)
                if child is not None:
                    result = label
                    message = child.get("message") or (child.text or "")
                    note = next((line for line in message.splitlines() if line.strip()), "")
                    break
            try:
                seconds = float(case.get("time", ""))
            except ValueError:
                seconds = None
            rows.append(_row("rehearsal", _test_name(case.get("name")), _rehearsal_config(case.get("name")),
                             "", seconds, "", result, note))
        if rows:
            return rows
    if log_path.is_file():
        outcome = {"PASSED": "PASS", "FAILED": "FAIL", "ERROR": "ERROR", "SKIPPED": "SKIP", "XFAIL": "SKIP",
                   "XPASS": "PASS"}
        for line in log_path.read_text(errors="replace").splitlines():
            line = line.strip()
            m = re.match(r"^SKIPPED \[\d+\] (\S+?):(\d+): (.*)$", line)  # -rA names a skip by file and line
            if m:
                rows.append(_row("rehearsal", f"{Path(m.group(1)).name}:{m.group(2)}", "", "", None, "", "SKIP",
                                 m.group(3)))
                continue
            m = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+::\S+)(?: - (.*))?$", line)
            if m:
                rows.append(_row("rehearsal", _test_name(m.group(2)), _rehearsal_config(m.group(2)), "", None,
                                 "", outcome[m.group(1)], m.group(3) or ""))
    return rows


def _last_line(path: Path) -> str:
    if not path.is_file():
        return ""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def collect(work: Path) -> list[tuple[str, dict, list[dict]]]:
    """[(key, section info, rows)] in table order, for the sections that check.sh recorded."""
    info = {}
    tsv = work / "sections.tsv"
    for line in (tsv.read_text().splitlines() if tsv.is_file() else []):
        key, seconds, rc, status, note = (line.split("\t") + [""] * 5)[:5]
        info[key] = {"seconds": float(seconds or 0), "rc": int(rc or 0), "status": status, "note": note}
    out = []
    for key in SECTIONS:
        if key not in info and not (work / f"rows-{key}.jsonl").is_file():
            continue
        sec = info.get(key, {"seconds": 0.0, "rc": 0, "status": "ran", "note": ""})
        if key == "models":
            rows = model_rows(work / "rows-models.jsonl")
        elif key == "rehearsal":
            rows = rehearsal_rows(work / "rehearsal.xml", work / "rehearsal.log")
        else:
            rows = _read_jsonl(work / f"rows-{key}.jsonl")
        rows = [dict(r, section=key) for r in rows]
        rc = sec["rc"]
        if sec["status"] in ("missing", "skipped"):
            rows.append(_row(key, f"{key}: {sec['status']}", result=sec["status"].upper(), note=sec["note"]))
        elif rc in TIMEOUT_CODES:
            cut = f"not run or not finished: {', '.join(unfinished_notebooks(rows))}. " if key == "rehearsal" else ""
            rows.append(_row(key, "(time limit)", seconds=sec["seconds"], result="TIMEOUT",
                             note=f"stopped after {sec['seconds']:.0f} s; the rows above are what finished. {cut}"
                                  + sec["note"]))
        elif rc != 0 and not any(r.get("result") in BAD for r in rows):
            rows.append(_row(key, f"exit code {rc}", seconds=sec["seconds"], result="FAIL",
                             note=sec["note"] or _last_line(work / f"{key}.log")))
        elif not rows:
            rows.append(_row(key, "(no rows)", seconds=sec["seconds"], result="FAIL" if rc else "ok",
                             note=sec["note"] or _last_line(work / f"{key}.log")))
        out.append((key, sec, rows))
    return out


def markdown(sections) -> str:
    lines = ["| section | check | config | steps | seconds | numbers | result | note |",
             "| --- | --- | --- | ---: | ---: | --- | --- | --- |"]
    for key, sec, rows in sections:
        counts = {}
        for r in rows:
            counts[r.get("result") or "-"] = counts.get(r.get("result") or "-", 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        lines.append(f"| **{SECTIONS[key]}** | {len(rows)} row{'s' * (len(rows) != 1)} | | | {sec['seconds']:.0f} | "
                     f"| {summary} | |")
        for r in rows:
            lines.append("| | " + " | ".join([
                _clean(r.get("check"), 60), _clean(r.get("config"), 100), _clean(r.get("steps"), 40),
                _num(r.get("seconds"), ".1f"), _clean(r.get("numbers"), 110), _clean(r.get("result"), 12),
                _clean(r.get("note"), 300)]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("row", help="append one row to WORK/rows-SECTION.jsonl")
    r.add_argument("work", type=Path)
    r.add_argument("section", choices=list(SECTIONS))
    r.add_argument("check")
    for name in ("config", "steps", "numbers", "note"):
        r.add_argument(f"--{name}", default="")
    r.add_argument("--seconds", type=float)
    r.add_argument("--result", default="ok")
    t = sub.add_parser("table", help="print the table (and write it to --out)")
    t.add_argument("work", type=Path)
    t.add_argument("--out", type=Path, help="also write the table here (markdown)")
    t.add_argument("--title", default="GPU check")
    args = p.parse_args(argv)
    if args.command == "row":
        with open(args.work / f"rows-{args.section}.jsonl", "a") as f:
            f.write(json.dumps(_row(args.section, args.check, args.config, args.steps, args.seconds, args.numbers,
                                    args.result, args.note)) + "\n")
        return 0
    sections = collect(args.work)
    table = markdown(sections)
    bad = sum(r.get("result") in BAD for _, _, rows in sections for r in rows)
    verdict = f"{'FAILED' if bad else 'PASSED'}: {bad} failed, timed-out or errored rows"
    print(f"## {args.title}\n\n{table}\n\n{verdict}")
    if args.out:
        args.out.write_text(f"## {args.title}\n\n{table}\n\n{verdict}\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

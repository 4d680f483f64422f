"""Keep every notebook's Colab badge and set-up cell pointing at `ganhelpers.REPO_URL`.

    python -m ganhelpers.links          # report notebooks whose links are stale
    python -m ganhelpers.links --write  # rewrite them (after changing REPO_URL or BRANCH)

Both editions of a notebook open the student edition; after `--write`, `python -m ganhelpers.editions --write`
brings the student notebooks up to date.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import BRANCH, REPO_URL

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+?\.ipynb")
# stops at a backslash too: in the notebook's JSON a quote inside a code string is escaped (\")
_INSTALL = re.compile(r"git\+https://github\.com/[^\s\"'@#\\]+")


def badge_url(notebook: str | Path) -> str:
    """The Colab address of a notebook's student edition (`ganhelpers.editions`), the one students open:
    .../github/OWNER/REPO/blob/BRANCH/notebooks/student/NAME, in both editions of the notebook."""
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/notebooks/student/"
            f"{Path(notebook).name}")


def install_url() -> str:
    return f"git+{REPO_URL}"


def stale_links(path: Path) -> list[str]:
    """What in one notebook disagrees with REPO_URL: a list of human-readable problems."""
    text = path.read_text()
    problems = []
    badges = _BADGE.findall(text)
    if not badges:
        problems.append("no Colab badge")
    problems += [f"badge {b} should be {badge_url(path)}" for b in badges if b != badge_url(path)]
    installs = _INSTALL.findall(text)
    if not installs:
        problems.append("no set-up cell installing ganhelpers")
    problems += [f"install {u} should be {install_url()}" for u in installs if u != install_url()]
    return problems


def rewrite(path: Path) -> bool:
    """Point the badge and install line of one notebook at REPO_URL; True when it changed."""
    text = path.read_text()
    new = _INSTALL.sub(install_url(), _BADGE.sub(badge_url(path), text))
    if new != text:
        json.loads(new)  # still a valid notebook
        path.write_text(new)
    return new != text


def main(argv=None) -> int:
    write = "--write" in (argv if argv is not None else sys.argv[1:])
    bad = 0
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        if write and rewrite(path):
            print(f"rewrote {path.name}")
        for problem in stale_links(path):
            bad += 1
            print(f"{path.name}: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

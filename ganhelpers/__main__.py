"""`python -m ganhelpers ...`: the command line (see `ganhelpers.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m ganhelpers ...`: the command line (see `ganhelpers.cli`)."""
import sys

from .cli import main

sys.exit(main())

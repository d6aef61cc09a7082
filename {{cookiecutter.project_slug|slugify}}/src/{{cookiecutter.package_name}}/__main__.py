"""`python -m <package> <command> ...`: the project's command line (see cli.py)."""

from .cli import main

raise SystemExit(main())

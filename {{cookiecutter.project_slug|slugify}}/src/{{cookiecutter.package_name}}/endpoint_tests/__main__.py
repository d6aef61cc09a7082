"""`python -m <package>.endpoint_tests --url http://127.0.0.1:PORT`: run the suite against a local server."""

import sys

from .cli import main

sys.exit(main())

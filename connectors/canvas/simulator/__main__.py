"""`python -m connectors.canvas.simulator` entry point."""

import sys

from ._server import main

sys.exit(main())

"""``python -m routerlab``: the same as the ``routerlab`` command."""

import sys

from routerlab.cli import main

sys.exit(main())

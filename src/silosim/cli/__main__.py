"""``python -m silosim.cli``: the ``silosim`` command line."""

import sys

from silosim.cli import main

sys.exit(main())

"""Run silosim from a source checkout: ``python run.py SCENARIO.yaml`` (same as ``silosim run``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from silosim.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

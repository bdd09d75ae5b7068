"""Docking (Axtell et al. 1996): the fast engine against the per-agent Mesa reference.

The docking lives in :mod:`silosim.docking.reference` (tests import it);
this script runs it in full:

    python benchmarks/dock_reference.py                 # 40 seeds, the bridged islands
    python benchmarks/dock_reference.py --seeds 20 --steps 120
    python benchmarks/dock_reference.py --scenario small_default
"""

import sys

from silosim.docking.reference import main

if __name__ == "__main__":
    sys.exit(main())

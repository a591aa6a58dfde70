"""``python -m analysis``: see :mod:`analysis.cli`."""

import gc
import sys

from analysis.cli import main

if __name__ == "__main__":
    try:
        code = main()
    finally:
        # The command's work is done (its outputs committed or removed): leave the heap to
        # the operating system. The collector's pass over it at interpreter exit took 5 to
        # 6 s of a report run at load 7 to 9 (the wait after "interrupted", R03b).
        gc.freeze()
    sys.exit(code)

"""``python -m qcourier.plugins.emulator``: run the emulator (same as ``qcourier serve``)."""

import sys

from qcourier.plugins.emulator.cli import main

sys.exit(main())

"""Make the network suite's ``netapps`` importable here and in process-mode children."""

import sys
from pathlib import Path

NETWORK_TESTS = str(Path(__file__).resolve().parents[1] / "network")
if NETWORK_TESTS not in sys.path:
    sys.path.insert(0, NETWORK_TESTS)

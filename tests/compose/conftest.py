"""Make ``aloneapps`` importable here and in the uvicorn processes these tests start."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

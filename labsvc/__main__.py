"""``python -m labsvc serve module:attr`` (see :mod:`labsvc.serve`)."""

import sys

from .serve import main

if __name__ == "__main__":
    sys.exit(main())

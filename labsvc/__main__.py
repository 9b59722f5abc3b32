"""``python -m labsvc serve module:attr`` (see :mod:`labsvc.core.serve`)."""

import sys

from labsvc.core.serve import main

if __name__ == "__main__":
    sys.exit(main())

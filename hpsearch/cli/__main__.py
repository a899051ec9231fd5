"""``python -m hpsearch.cli`` = the ``hpsearch`` console script."""

import sys

from hpsearch.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m ottt_edu train ...``: see ``ottt_edu.cli``."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

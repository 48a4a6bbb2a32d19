"""`python -m sinkviz.census` (also under torchrun / accelerate launch): the `sinkviz census` command."""
import sys

from sinkviz.census.cli import main

if __name__ == "__main__":
    sys.exit(main())

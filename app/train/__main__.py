"""`python -m app.train TASK …` is `gatescope train TASK …`."""

import sys

from app.train.cli import main

sys.exit(main(["train", *sys.argv[1:]]))

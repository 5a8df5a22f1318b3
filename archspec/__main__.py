"""`python -m archspec COMMAND ...`, the same as the `archspec` command; `torchrun ... -m archspec
train ...` starts one training process per GPU this way. Frameworks are imported by the commands
that need them, never here."""

import sys

from archspec.cli import main

sys.exit(main())

"""`python -m alphanet`: the `alphanet` command (alphanet/cli.py), where its console script is not on the PATH."""
import sys

from alphanet.cli import main

sys.exit(main())

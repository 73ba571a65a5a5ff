"""`python -m hyperstrate_observability [serve|migrate|rebuild]`."""

import sys

from hyperstrate_kit.service import run_cli
from hyperstrate_observability.app import definition

sys.exit(run_cli(definition))

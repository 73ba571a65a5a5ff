"""`python -m hyperstrate_router [serve|migrate|rebuild]`."""

import sys

from hyperstrate_kit.service import run_cli
from hyperstrate_router.app import definition

sys.exit(run_cli(definition))

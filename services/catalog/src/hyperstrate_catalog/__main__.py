"""`python -m hyperstrate_catalog [serve|migrate|rebuild]`."""

import sys

from hyperstrate_catalog.app import definition
from hyperstrate_kit.service import run_cli

sys.exit(run_cli(definition))

"""`python -m hyperstrate_gateway [serve|migrate|rebuild]`."""

import sys

from hyperstrate_gateway.app import definition
from hyperstrate_kit.service import run_cli

sys.exit(run_cli(definition))

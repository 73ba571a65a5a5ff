"""`python -m hyperstrate_auth [serve|migrate|rebuild]`."""

import sys

from hyperstrate_auth.app import definition
from hyperstrate_kit.service import run_cli

sys.exit(run_cli(definition))

"""`python -m hyperstrate_auth [serve|migrate|rebuild]`."""

import sys

from hyperstrate_kit.service import run_cli

from hyperstrate_auth.app import definition

sys.exit(run_cli(definition))

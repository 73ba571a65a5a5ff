"""`python -m hyperstrate_prompts [serve|migrate|rebuild]`."""

import sys

from hyperstrate_kit.service import run_cli
from hyperstrate_prompts.app import definition

sys.exit(run_cli(definition))

"""`python -m hyperstrate_router.worker`: the inference hot path alone, without the admin API's
database, so inference can scale out apart from administration (and be benchmarked alone)."""

from __future__ import annotations

import sys

from hyperstrate_kit.service import ServiceDefinition, run_cli
from hyperstrate_router.inference_runtime import start_inference
from hyperstrate_router.settings import RouterSettings

__all__ = ["INFERENCE_WORKER"]

INFERENCE_WORKER: ServiceDefinition[RouterSettings] = ServiceDefinition(
    name="router",
    settings_type=RouterSettings,
    migrations=None,
    on_start=[start_inference],
)

if __name__ == "__main__":
    sys.exit(run_cli(INFERENCE_WORKER))

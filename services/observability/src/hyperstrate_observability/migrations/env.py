from hyperstrate_kit.database import run_alembic_env

run_alembic_env()

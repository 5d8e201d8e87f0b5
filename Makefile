# The two commands: `make run` (everything up, prints the URL) and `make test` (every check).
.PHONY: run test setup stop services lint

run:
	./scripts/run

test:
	./scripts/test

setup:
	./scripts/setup

stop:
	./scripts/stop

services:
	./scripts/services start redis postgres

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

# The two commands of the README:
#   make run    the main job: local Kafka, topics, worker, a simulated 30-day arena, audit and report
#   make test   lint, types and the whole test suite on a real Kafka broker
# Both install what they need first (.ci/setup).

VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-tests lint typecheck unit integration schemas bench broker-stop clean

setup:
	@bash .ci/setup

setup-tests:
	@bash .ci/setup --tests

run: setup
	$(BIN)/arena run

test: setup-tests lint typecheck
	$(BIN)/pytest

lint: setup-tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup-tests
	$(BIN)/mypy

unit: setup-tests
	$(BIN)/pytest tests/unit

integration: setup-tests
	$(BIN)/pytest tests/integration

schemas: setup-tests
	$(BIN)/python -m schemas.export

bench: setup-tests
	$(BIN)/python -m benchmarks

broker-stop:
	-$(BIN)/arena broker stop

clean: broker-stop
	rm -rf .arena .mypy_cache .ruff_cache .pytest_cache .hypothesis

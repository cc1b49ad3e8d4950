# The two commands of the README:
#   make run    the main job: local Kafka, topics, worker, a simulated 30-day arena, audit and report
#   make test   lint, types and the whole test suite on a real Kafka broker
# Both install what they need first (.ci/setup).

VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-kafka-3.9 setup setup-tests lint typecheck unit integration schemas bench docker-smoke broker-stop clean

setup:
	@bash .ci/setup

setup-tests:
	@bash .ci/setup --tests

run: setup
	$(BIN)/arena run

test: setup-tests lint typecheck
	$(BIN)/pytest

# The oldest Kafka line still supported: broker smoke, crash and failover tests on 3.9.1 (CI runs it too).
test-kafka-3.9: setup-tests
	KAFKA_VERSION=3.9.1 $(BIN)/pytest tests/integration/test_broker_smoke.py tests/integration/test_reliability.py \
		tests/integration/test_failover.py

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

# The Docker smoke test (README, "Docker"): images built here, docker-compose.yml to a passed audit, the
# testcontainers fixture. Not part of `make test`: it needs root or a Docker daemon.
docker-smoke: setup-tests
	bash container/smoke.sh

broker-stop:
	-$(BIN)/arena broker stop

clean: broker-stop
	rm -rf .arena .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run serve test lint format bench train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned: the CPU build lies on this machine's disk,
# while an unpinned torch pulled in by sentence-transformers is a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/matcher seed-demo
	$(BIN)/flask --app web ensure-demo-user --url http://$(HOST):$(PORT)
	$(BIN)/python train.py --if-missing
	$(BIN)/flask --app web run --host $(HOST) --port $(PORT)

# Production: schema migrations as their own step, then waitress on $(HOST):$(PORT).
# Needs SECRET_KEY (and DATABASE_URL for PostgreSQL).
serve: install
	$(BIN)/matcher db upgrade
	MATCHER_ENV=production OMP_NUM_THREADS=1 $(BIN)/waitress-serve --host $(HOST) --port $(PORT) --threads 8 \
		--call web:create_app

train: install
	$(BIN)/python train.py

# One thread per process: OpenMP and torch pools that spin on a busy machine cost more
# than they bring to a test suite.
test: install
	OMP_NUM_THREADS=1 $(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

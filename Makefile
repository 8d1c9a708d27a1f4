# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Request threads of `make serve`: one per core (docs/performance.md, "Serving").
SERVE_THREADS ?= $(shell nproc 2>/dev/null || echo 2)

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

# Production: schema migrations as their own step, the ONNX encoder's one-time export (cached
# under ~/.cache/therapist-matcher/encoders; a check that takes seconds afterwards), then
# waitress on $(HOST):$(PORT): one process, one request thread per core, each encode on one
# core (OMP_NUM_THREADS=1, MATCHER_ENCODER_THREADS=1). ONNX Runtime and numpy release the GIL,
# so two requests use the two cores, and further requests wait their turn in waitress's queue
# instead of sharing the cores (8 threads: p95 about 330 ms at 10 clients; 2: about 245 ms).
# Two gunicorn workers measured no better p95 on 2 cores, cost memory and would split the
# in-process rate limits (docs/performance.md).
# waitress passes X-Forwarded-* through untouched: the app trusts exactly
# MATCHER_TRUSTED_PROXIES hops of them (web/proxies.py), and none by default.
# Needs SECRET_KEY (and DATABASE_URL for PostgreSQL). MATCHER_ENCODER=torch serves with torch.
serve: install
	$(BIN)/matcher db upgrade
	OMP_NUM_THREADS=1 $(BIN)/python -c "from matcher.ranking.embed import \
		SentenceTransformerEmbedder as E; e = E(); e.encode(['warm-up']); print('encoder:', e.backend)"
	MATCHER_ENV=production OMP_NUM_THREADS=1 MATCHER_ENCODER_THREADS=1 $(BIN)/waitress-serve \
		--host $(HOST) --port $(PORT) --threads $(SERVE_THREADS) --no-clear-untrusted-proxy-headers \
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

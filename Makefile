# The two commands a fresh machine needs: `make app` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LINTED := graphlab apps tests benchmarks examples

.PHONY: app test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall only when the project's metadata changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The stepper in the browser: `graphlab app` runs `streamlit run apps/graphlab_app.py`. PORT=8502 make app moves it;
# PROCESSES=2 make app serves a class from two app servers behind one address (README: A class on one server).
PORT ?= 8501
PROCESSES ?= 1
app: $(STAMP)
	$(VENV)/bin/graphlab app --port $(PORT) --processes $(PROCESSES)

test: $(STAMP)
	$(PY) -m ruff check $(LINTED)
	$(PY) -m pytest -n 2 -q

# Peers (PyTorch CPU pinned, JAX, micrograd) come from the bench extra; `make test` never needs them.
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m benchmarks --markdown BENCHMARKS.md

lint: $(STAMP)
	$(PY) -m ruff check $(LINTED)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

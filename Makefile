# `make demo` and `make test` each set up what they need, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast install lint typecheck bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: install
	scripts/ensure-system-deps.sh $(VENV) demo
	$(BIN)/jingshao demo

test: install
	scripts/ensure-system-deps.sh $(VENV) test
	$(BIN)/python -m pytest

# Everything but the tests marked slow (end-to-end crawls, the demo, training): about a minute.
test-fast: install
	scripts/ensure-system-deps.sh $(VENV) test
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/python scripts/typecheck.py

bench: install
	scripts/ensure-system-deps.sh $(VENV) test
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/nlp.py
	$(BIN)/python bench/crawl.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

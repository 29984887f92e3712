# `make demo` and `make test` each set up what they need, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint bench clean

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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	scripts/ensure-system-deps.sh $(VENV) test
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/nlp.py
	$(BIN)/python bench/crawl.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

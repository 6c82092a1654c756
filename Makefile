# govbot developer entry points.  `make test` and `make demo` set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= $(CURDIR)/demo/govbot-demo.db

.PHONY: venv test demo bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	mkdir -p $(dir $(DEMO_DB))
	rm -f $(DEMO_DB)
	GOVBOT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/govbot db upgrade
	GOVBOT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/govbot import examples/corvane
	GOVBOT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/govbot lint
	GOVBOT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/govbot chat --as luis.ortega@corvane.example

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo .pytest_cache

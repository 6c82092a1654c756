# govbot developer entry points.  `make test` and `make demo` set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= $(CURDIR)/demo/govbot-demo.db

.PHONY: venv browser netbox test demo demo-data demo-console bench lint clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The browser test drives Debian's chromium; install it (as root, via apt) only when it is missing.
# Without apt the browser test skips locally and fails in CI (CI=true).
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; } \
		|| echo "warning: could not install chromium; the browser test will not run"; \
	else echo "warning: chromium is missing and apt-get is unavailable (not root?); the browser test will not run"; fi

# The live-source tests run a real NetBox (PyPI, Python >= 3.12) from .netbox/; the first run installs it
# and migrates its template database (minutes), later runs reuse both.  The tests prepare it themselves;
# `make netbox` does it ahead of time.
netbox: $(STAMP)
	$(BIN)/python -m tests.sources.netbox_server

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Re-extract the answer texts into handlers/locale/govbot.pot and add new ones to every catalogue
# (docs/languages.md). govbot reads the .po files directly: nothing needs compiling.
messages: $(STAMP)
	$(BIN)/pybabel extract -k t -k plural:1,2 -k N_ -k Wording --no-location --omit-header -w 120 -o handlers/locale/govbot.pot \
		handlers/ownership.py handlers/help.py handlers/router.py handlers/i18n.py \
		governance_store/lint.py governance_store/raci.py governance_store/chains.py
	$(BIN)/pybabel update -D govbot -i handlers/locale/govbot.pot -d handlers/locale --ignore-obsolete --no-fuzzy-matching -w 120

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The local demo: dashboard + web chat + notification worker on an accelerated clock (http://127.0.0.1:8080/).
# `make demo-console` (or `govbot chat`) is the console alternative.  The demo store is a development store:
# its audit trail is signed with the development key (GOVBOT_DEV_MODE), so no secret needs setting first.
DEMO_PORT ?= 8080
DEMO_SPEED ?= 60
DEMO_ENV = GOVBOT_DEV_MODE=true GOVBOT_DATABASE_URL=sqlite:///$(DEMO_DB)

# The sample organisation and its year of history, freshly imported into $(DEMO_DB).
demo-data: $(STAMP)
	mkdir -p $(dir $(DEMO_DB))
	rm -f $(DEMO_DB)
	$(DEMO_ENV) $(BIN)/govbot db upgrade
	$(DEMO_ENV) $(BIN)/govbot import examples/corvane examples/corvane-history
	$(DEMO_ENV) $(BIN)/govbot lint || true

demo: demo-data
	$(BIN)/govbot demo --db $(DEMO_DB) --port $(DEMO_PORT) --speed $(DEMO_SPEED)

demo-console: demo-data
	$(DEMO_ENV) $(BIN)/govbot chat --as luis.ortega@corvane.example --inbox

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The Teams app package (manifest + icons); TEAMS_BOT_ID (the Azure Bot's Microsoft App ID) fills in the ids.
teams-package:
	$(PYTHON) deploy/teams/package.py $(if $(TEAMS_BOT_ID),--bot-id $(TEAMS_BOT_ID))

clean:
	rm -rf $(VENV) demo .pytest_cache .netbox

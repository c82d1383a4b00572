# voicechanger: `make run` converts the bundled demo recording, `make test` runs lint and the tests,
# `make test-long` the two long suites (a real Prefect server, the speech-quality round trips).
# Both install what is missing first (Debian packages when root, the venv, the embedded model).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEBS   := ffmpeg festival festvox-ru asterisk-core-sounds-ru-wav asterisk-core-sounds-ru asterisk-core-sounds-ru-gsm gcc python3-dev asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav asterisk-prompt-it-menardi-wav fillets-ng-data-cs chromium chromium-driver
DEMO_IN  := examples/demo-ru.mp3
DEMO_OUT := out/demo-ru.voice.mp3
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install debs venv models run test test-long test-fast bench bench-micro quality lint serve clean

install: debs venv models

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing"; exit 1; \
	fi

# The venv is rebuilt when pyproject.toml changes.
venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

models: venv
	@$(PY) -c "from voicechanger.engines.asr import embedded_model_dir as m; print('whisper base:', m())"
	@$(PY) -c "from voicechanger.engines.stress import prepare_tables as p; print('stress tables:', p())"
	@$(PY) -c "from voicechanger.engines.voice_encoder import prepare_encoder as p; print('speaker encoder:', p())"

run: install
	@mkdir -p out
	@start=$$(date +%s); $(VENV)/bin/voice convert $(DEMO_IN) $(DEMO_OUT) --profile normal --plot out/demo-ru.png && \
	  echo "converted in $$(( $$(date +%s) - start )) s: $(DEMO_OUT)"

# Everything but the two long suites, which CI runs as well (.ci/run): those need a Prefect server or
# judge minutes of converted speech with a Whisper referee.
LONG := prefect or quality or browser
# Two pytest workers: these tests spend much of their time in single-threaded work (a CLI's start,
# Festival, ffmpeg) that leaves a core idle; a test file stays on one worker, with its fixtures.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile
test: install lint
	$(PY) -m pytest -v $(PARALLEL) -m "not ($(LONG))" tests

test-long: install
	$(PY) -m pytest -v -m "$(LONG)" tests

test-fast: install
	$(PY) -m pytest -v $(PARALLEL) -m "not slow" tests

BENCH_ARGS ?= --long
bench: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Engine speed figures moved out of the functional tests (Festival warm calls, Silero, PSOLA).
bench-micro: install
	$(PY) -m benchmarks.micro --strict

# ruff (unused names, import order, duplicate set items, bugbear) and mypy on voicechanger/, flows/ and tasks/, as
# configured in pyproject.toml; `make test` runs it first.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The quality table over every recording condition (tests/conditions.py), for the README.
quality: install
	$(PY) -m benchmarks.quality

# Serve the Prefect deployment voice/convert (flows/serve.py) against the server at PREFECT_API_URL:
#   prefect server start; export PREFECT_API_URL=http://127.0.0.1:4200/api; make serve
#   prefect deployment run voice/convert -p input=recordings/ -p output=out/ --watch
# Relative paths in a run's parameters are relative to this folder.
serve: install
	$(PY) -m flows.serve

clean:
	rm -rf out cache .pytest_cache

# The README's two commands: `make demo` and `make test`. Everything else is set-up they call.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
DB     ?= instance/examserver.db

.PHONY: demo test install lint bench bench-bank bench-delivery clean translations chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/examserver db upgrade --db $(DB)
	$(VENV)/bin/examserver demo --db $(DB) --host $(HOST) --port $(PORT)

# Browser tests need Debian's Chromium; install it when it is missing and we may (root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium" >&2; fi; }

# The rules of the exam are plain Python and type-check strictly (house style); the rest of the
# package type-checks with the project's settings (pyproject.toml).
CORE := examserver/delivery/clock.py examserver/grading examserver/papers/draw.py \
        examserver/question_bank/types.py examserver/question_bank/richtext.py examserver/identity.py

test: $(STAMP) chromium
	$(VENV)/bin/ruff check examserver tests bench
	$(VENV)/bin/mypy --strict --follow-imports=silent $(CORE)
	$(VENV)/bin/mypy examserver
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check examserver tests bench
	$(VENV)/bin/mypy examserver

translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o examserver/translations/messages.pot .
	$(VENV)/bin/pybabel update -i examserver/translations/messages.pot -d examserver/translations --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d examserver/translations

bench: bench-bank bench-delivery

bench-bank: $(STAMP)
	$(PY) bench/bank_bench.py --n 10000

bench-delivery: $(STAMP)
	$(PY) bench/delivery_bench.py --candidates 1000 --modes eventlet,gevent

clean:
	rm -rf $(VENV) instance/examserver.db* .pytest_cache

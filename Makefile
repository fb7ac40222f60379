# The front door. `make run` and `make test` work as the first command on a
# fresh clone: both run `setup` first, which does only what is not done yet.

VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
CPUS := $(shell nproc 2>/dev/null || echo 2)

# Django 6.1 needs Python >= 3.12. Take `python3` when it is new enough (pyenv
# honours .python-version), else python3.13 / python3.12 on PATH, else the
# newest such version in pyenv's versions folder, even with no pyenv on PATH.
FIND_PYTHON := for p in python3 python3.13 python3.12 \
	  $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v "$$p"; break; fi; done

.PHONY: help check setup run test leanasgi versions third-party lint format uvicorn daphne gunicorn granian hypercorn gunicorn-asgi serve bench storm figures screenshot cluster soak faults idle profile clean

# `make help`: every target, by group; tests/test_front_door.py keeps it whole.
help:
	@echo "Start:"
	@echo "  run            runserver (Daphne, ASGI, autoreload) on http://$(HOST):$(PORT)/, and the task worker"
	@echo "  setup          the virtualenv, migrations, demo posts and static files"
	@echo "  help           this list"
	@echo "Check:"
	@echo "  check          lint, leanasgi's types and the in-process tests, under a minute"
	@echo "  test           everything: real servers, a browser, the cluster, leanasgi"
	@echo "  leanasgi       leanasgi's own tests, then Django's suites against it"
	@echo "  versions       leanasgi on Django 5.2, 6.0 and 6.1 (nox)"
	@echo "  third-party    django-debug-toolbar's and django-allauth's suites, stock and with leanasgi"
	@echo "  lint           ruff format --check and ruff check"
	@echo "  format         ruff format and ruff check --fix"
	@echo "Serve, one process:"
	@echo "  uvicorn        uvicorn mysite.asgi:application"
	@echo "  daphne         daphne mysite.asgi:application"
	@echo "  granian        granian --interface asgi mysite.asgi:application"
	@echo "  hypercorn      hypercorn mysite.asgi:application"
	@echo "  gunicorn       gunicorn mysite.wsgi:application (WSGI)"
	@echo "Serve, one worker per CPU:"
	@echo "  serve          gunicorn with UvicornWorker: production's command"
	@echo "  gunicorn-asgi  gunicorn with its own ASGI worker (-k asgi)"
	@echo "  cluster        nginx, two app servers, PostgreSQL and Redis on :8080"
	@echo "Measure (into docs/):"
	@echo "  bench          every server under every workload (ARGS=--quick, --only, --anatomy)"
	@echo "  figures        the chapters' other figures (ARGS=\"--only <section>\")"
	@echo "  storm          100 clients hang up on fan-outs"
	@echo "  idle           10,000 open event streams on one worker"
	@echo "  profile        a flame graph of one uvicorn worker under trivial load"
	@echo "  soak           5 minutes of mixed load through the cluster"
	@echo "  faults         the cluster's fault tests, with their figures"
	@echo "  screenshot     the live lab's picture"
	@echo "  clean          remove the virtualenv, caches, databases and results"

# Lint and every test that starts no process: the loop to run while editing.
check: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	cd leanasgi && ../$(VENV)/bin/mypy
	$(VENV)/bin/pytest -m "not slow" -q

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py seed_blog --verbosity 0
	$(PY) manage.py collectstatic --noinput --verbosity 0

$(VENV)/.installed: requirements.txt requirements-dev.txt leanasgi/pyproject.toml
	@python=$$($(FIND_PYTHON)); \
	if [ -z "$$python" ]; then \
	  echo "No Python >= 3.12 found. Install Python 3.13 (e.g. 'pyenv install 3.13')" \
	       "or put python3.13 on PATH, then run make again." >&2; \
	  exit 1; \
	fi; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "Creating $(VENV) with $$python"; rm -rf $(VENV); "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# Editable here, so a change to leanasgi/src needs no reinstall.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e ./leanasgi
	@touch $@

# The task worker (blog/tasks.py) runs beside the server, and stops with it.
run: setup
	@$(PY) manage.py db_worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: setup
	$(PY) manage.py makemigrations --check --dry-run --verbosity 0
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory leanasgi

# The lean ASGI package on its own: its tests, then Django's own handler and
# middleware suites with its classes swapped in (the first run fetches them).
leanasgi: setup
	cd leanasgi && ../$(VENV)/bin/pytest -q
	cd leanasgi && ../$(PY) django_suites.py

# The same on each Django release the package supports, 5.2 LTS to 6.1 (nox);
# the counts go to docs/figures/django-suites.txt.
versions: setup
	cd leanasgi && bash -o pipefail -c '../$(VENV)/bin/nox 2>&1 | grep -v "^WARNING: Location" | tee ../docs/figures/django-suites.txt'

# Two real projects' own suites, stock and with leanasgi swapped in; the
# counts go to docs/figures/third-party-suites.txt.
third-party: setup
	cd leanasgi && bash -o pipefail -c '../$(PY) third_party_suites.py | tee ../docs/figures/third-party-suites.txt'

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

uvicorn: setup
	$(VENV)/bin/uvicorn mysite.asgi:application --host $(HOST) --port $(PORT)

daphne: setup
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) mysite.asgi:application

gunicorn: setup
	$(VENV)/bin/gunicorn mysite.wsgi:application --bind $(HOST):$(PORT)

# The other ASGI servers Django's deployment docs cover.
granian: setup
	$(VENV)/bin/granian --interface asgi --host $(HOST) --port $(PORT) mysite.asgi:application

hypercorn: setup
	$(VENV)/bin/hypercorn --bind $(HOST):$(PORT) mysite.asgi:application

# gunicorn 27's own ASGI worker, one per CPU.
gunicorn-asgi: setup
	$(VENV)/bin/gunicorn mysite.asgi:application -k asgi --workers $(CPUS) --bind $(HOST):$(PORT)

# Production style: one uvicorn worker per CPU under gunicorn's process manager.
serve: setup
	$(VENV)/bin/gunicorn mysite.asgi:application -k uvicorn_worker.UvicornWorker \
	  --workers $(CPUS) --bind $(HOST):$(PORT)

# Every server configuration under the seed's workloads; ARGS=--quick for a
# smoke run, ARGS="--only uvicorn,raw-asgi" to choose configurations.
bench: setup
	$(PY) -m bench $(ARGS)

# 100 clients hang up on fan-outs; what it costs one uvicorn worker afterwards.
storm: setup
	$(PY) -m bench.storm | tee docs/figures/abandoned-fan-outs.txt

# Every figure the README quotes outside the benchmark, into docs/figures/.
figures: setup
	$(PY) -m bench.figures $(ARGS)

# nginx on :8080 (CLUSTER_PORT) in front of two app servers sharing one
# PostgreSQL in .cluster/pg, all on this machine (deploy/cluster.py). Ctrl-C stops it.
cluster: setup
	$(PY) -m deploy.cluster

# 5 minutes of mixed load through the cluster; the summary and chart go to docs/figures.
soak: setup
	$(PY) -m deploy.soak 300

# The cluster's fault tests, with the figures they print, into docs/figures.
faults: setup
	bash -o pipefail -c '$(VENV)/bin/pytest tests/test_cluster.py -s -q -k "not soak" | tee docs/figures/cluster-faults.txt'

# 10,000 open event streams on one worker, lean handler and DJANGO_STOCK=1.
idle: setup
	$(PY) -m bench.idle

# py-spy samples the worker: docs/figures/profile.svg and profile.txt
# (DJANGO_STOCK=1 make profile: Django as shipped, profile-stock.*;
# ARGS="--server granian": one Granian worker, profile-granian.*).
profile: setup
	$(PY) -m bench.profile $(ARGS)

# The live lab's picture in the README, taken by its browser test.
screenshot: setup
	LAB_SCREENSHOT=docs/lab/say-after.png $(VENV)/bin/pytest tests/test_lab_browser.py -k fifty

clean:
	rm -rf $(VENV) leanasgi/.nox leanasgi/.django-tests .cluster staticfiles bench-results db.sqlite3 db.sqlite3-shm db.sqlite3-wal

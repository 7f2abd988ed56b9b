# The two commands of the README: `make run` and `make test`. Everything they need is here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Development defaults; the environment wins.
export DJANGO_DEBUG ?= 1

.PHONY: run test bench setup lint migrate clean superuser

# The service's dependencies (requirements.txt), then the tests' and tools' (requirements-dev.txt).
# pip compiles every package's files (a third of its 30 s), and that is kept: with
# PYTHONDONTWRITEBYTECODE=1 (set on these machines) nothing compiled at import is ever saved, so
# without it every process of the suite would compile what it imports again.
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# requirements-dev.txt includes requirements.txt: one pip run installs both (and marks both done).
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# The checkout's environment file: manage.py's commands read it (never when DJANGO_DEBUG=0 is set;
# servers never do), so the README's commands (manage.py create_client, ...) work without a
# DJANGO_DEBUG=1 prefix. Yours once written.
.env:
	printf '%s\n' '# Development settings of this checkout, read by authproject/settings.py' \
	  '# (never when DJANGO_DEBUG=0 is set; the environment wins). See the README: Configuration.' \
	  'DJANGO_DEBUG=1' >$@

setup: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo_users

# Sign-up is on here (off unless SIGNUP_ENABLED=1 elsewhere); the task worker that sends email
# (to this terminal: the console backend, unless EMAIL_HOST is set) runs beside the server.
run: export SIGNUP_ENABLED ?= 1
run: setup
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C stops it)."
	@echo "  API documentation: http://127.0.0.1:8000/docs/  (Authorize, then sign in as johndoe / secret)"
	@echo "  Admin: http://127.0.0.1:8000/admin/  (make superuser creates its first administrator)"
	@echo "  Your account: http://127.0.0.1:8000/account  (sign-up at /signup; emails are printed here)"
	@echo "  Passkeys: open http://localhost:8000/account/security  (browsers refuse them at an IP address)"
	$(PY) manage.py db_worker --no-startup-delay & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	  $(PY) manage.py runserver 127.0.0.1:8000

# The tools first (one pip run for both lists), then the set-up of `make run`.
test: $(VENV)/.installed-dev setup
	scripts/test.sh

# An administrator for /admin/ (asks for a username, email and password).
superuser: setup
	$(PY) manage.py createsuperuser

# Serves the project with gunicorn on a throwaway PostgreSQL and drives it with wrk (about 4 min).
bench: $(VENV)/.installed-dev
	@scripts/ensure-debian-package.sh wrk wrk
	PG_DURABLE=1 scripts/with-postgres.sh scripts/with-pgbouncer.sh $(PY) bench/run.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 var .pytest_cache .ruff_cache

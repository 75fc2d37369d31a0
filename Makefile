# The two commands in the README, and `install` (what `run` does before it serves).
# Everything they need is installed by them.
VENV ?= .venv
PYTHON ?= python3
BIND ?= 127.0.0.1:5000

.PHONY: install run test

$(VENV)/bin/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

install: $(VENV)/bin/flask
	$(VENV)/bin/flask --app ozyops db upgrade

# gunicorn with the repo's gunicorn.conf.py (one worker without Redis), not Flask's
# development server: this is how a practice runs the embedded default.
run: install
	OZYOPS_BIND=$(BIND) $(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test:
	scripts/test.sh

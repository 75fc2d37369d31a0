# The two commands in the README. Everything they need is installed by them.
VENV ?= .venv
PYTHON ?= python3

.PHONY: run test

$(VENV)/bin/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

run: $(VENV)/bin/flask
	$(VENV)/bin/flask --app ozyops db upgrade
	$(VENV)/bin/flask --app ozyops run --host 127.0.0.1 --port 5000

test:
	scripts/test.sh

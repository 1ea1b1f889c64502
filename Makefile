# Two entry points (see README.md): `make lab` (the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.simtlab-installed
PYTEST_ARGS ?=

.PHONY: env lab test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

## lab: set everything up, then start JupyterLab on the labs with the simtlab kernel
lab: env
	$(BIN)/simtlab kernel install --sys-prefix
	@# the student versions of the labs, once: a later `make lab` never overwrites work in labs/release/
	test -d labs/release || $(BIN)/simtlab labs release
	$(BIN)/jupyter lab --notebook-dir=labs $(if $(filter 0,$(shell id -u)),--allow-root,)

## test: set everything up, then lint and run the whole test suite
test: env
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: env
	$(BIN)/simtlab bench

clean:
	rm -rf $(VENV) build *.egg-info

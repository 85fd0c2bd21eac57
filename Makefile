# Entry points for a fresh machine: `make serve` (set up, build the archive, serve), `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MODEL_STORE ?= model_store
MAR := $(MODEL_STORE)/alphanet.mar
SCRIPTED := $(MODEL_STORE)/alphanet.pt

.PHONY: install mar serve test clean

install: $(INSTALLED)

# The stamp makes `install` idempotent: pip runs again only when a requirements file changes.
$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --no-deps -e .
	touch $@

mar: $(MAR)

# The archive holds the scripted model, the handler and its model-config.yaml; the handler imports
# alphanet.imageio from the installed package. The tests build theirs with MODEL_STORE=<a tmp dir>.
$(MAR): $(INSTALLED) handlers/alphanet_handler.py config/model-config.yaml $(wildcard alphanet/*.py alphanet/weights/*)
	$(BIN)/python -m alphanet.export --out $(SCRIPTED)
	$(BIN)/torch-model-archiver --force --model-name alphanet --version 1.0 --export-path $(MODEL_STORE) \
		--serialized-file $(SCRIPTED) --handler handlers/alphanet_handler.py \
		--config-file config/model-config.yaml

serve: install mar
	$(BIN)/python -m alphanet.launch_torchserve --config config/config.properties

test: install
	$(BIN)/python -m pytest

clean:
	rm -f $(MAR) $(SCRIPTED)
	rm -rf logs .pytest_cache

# --- Triton: `make triton-repo`, `make serve-triton` (alphanet.triton_repo, alphanet.triton_server) ---------------
# nvidia-pytriton (it ships the tritonserver binary) pins numpy<2 while the main environment needs numpy 2, so
# Triton gets a virtualenv of its own. `install` makes it too: the Triton tests start a server from it.
TRITON_VENV := .venv-triton
TRITON_INSTALLED := $(TRITON_VENV)/.installed
TRITON_REPO ?= model_repository

.PHONY: triton-repo serve-triton
install: $(TRITON_INSTALLED)

$(TRITON_INSTALLED): requirements-triton.txt
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -r requirements-triton.txt
	touch $@

# For Triton's PyTorch backend, from the very file the .mar holds.
triton-repo: $(MAR)
	$(BIN)/python -m alphanet.triton_repo --out $(TRITON_REPO) --scripted $(SCRIPTED)

serve-triton: $(TRITON_INSTALLED) $(MAR)
	$(TRITON_VENV)/bin/python -m alphanet.triton_server --scripted $(SCRIPTED)

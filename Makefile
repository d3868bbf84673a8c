# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job on the built-in default (churn, the classic learners, 5 seeds), then the LLM
# question on review text: zero-shot, few-shot and embeddings against logistic regression, on
# 60 test rows, 2 seeds and 3 sizes so it ends in about 6 minutes on 2 CPU cores.
demo: $(STAMP)
	$(BIN)/dataeff run --out runs/demo
	@echo "LLM demo: fine-foods reviews, llm-zero/llm-few/llm-embed vs logreg, 60 test rows, sizes 8,32,128, 2 seeds"
	$(BIN)/dataeff run --data fine-foods --learners llm-zero,llm-few,llm-embed,logreg --seeds 2 \
	  --sizes 8,32,128 --test-rows 60 --out runs/demo-llm

# The report's browser test drives Debian's Chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium' (the report's browser test needs it)"; \
	  fi; }

# The whole suite, slow end-to-end tests included.
test: $(STAMP) browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache

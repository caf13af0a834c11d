# The two commands a new user needs: `make demo` and `make test`. Both bootstrap .venv first.
VENV := .venv
STAMP := $(VENV)/.bootstrapped
RAG := $(VENV)/bin/rag
DEMO_QUESTION ?= How often should my bike be serviced?

.PHONY: setup demo test lint serve clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(RAG) ingest samples --collection samples
	$(RAG) ask "$(DEMO_QUESTION)" --collection samples

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/python -m pytest

serve: $(STAMP)
	$(RAG) serve

clean:
	rm -rf $(VENV)

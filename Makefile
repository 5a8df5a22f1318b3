# The two commands of the README: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NETWORKS := $(wildcard specs/*.yaml) $(wildcard specs/examples/*.yaml)
ERRATA := $(wildcard specs/errata/*.yaml)

.PHONY: install run test lint typecheck pytest golden clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,torch,tf]'
	touch $@

install: $(STAMP)

# The main job: list, check and summarise every bundled spec; results under out/.
run: $(STAMP)
	@mkdir -p out
	$(BIN)/archspec list
	$(BIN)/archspec check $(NETWORKS)
	@for spec in $(NETWORKS); do \
		name=$$(basename $$spec .yaml); \
		$(BIN)/archspec summary $$spec > out/$$name.summary.txt && \
		$(BIN)/archspec summary $$spec --format json > out/$$name.summary.json || exit 1; \
		echo "wrote out/$$name.summary.txt and out/$$name.summary.json"; \
	done
	@for spec in $(ERRATA); do \
		name=$$(basename $$spec .yaml); \
		if $(BIN)/archspec check $$spec 2> out/$$name.errors.txt; then \
			echo "$$spec was expected to fail check"; exit 1; \
		fi; \
		echo "$$spec is rejected as it should be; see out/$$name.errors.txt"; \
	done

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# Rewrite the golden files under tests/golden from the current code; review the diff before committing.
golden: $(STAMP)
	$(BIN)/python tests/update_golden.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache *.egg-info

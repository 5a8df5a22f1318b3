# The two commands of the README: `make run` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
NETWORKS := $(wildcard specs/*.yaml) $(wildcard specs/examples/*.yaml)
ERRATA := $(wildcard specs/errata/*.yaml)

.PHONY: install lock graphviz browser run test test-fast lint typecheck pytest golden schema clean

# Graphviz's `dot` draws the renders (`archspec render`); DOT output needs nothing. Installed with
# apt-get where that is possible, else a warning: the SVG/PNG tests then skip and `run` writes DOT.
GRAPHVIZ_INSTALL = command -v dot >/dev/null 2>&1 || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	fi; \
	command -v dot >/dev/null 2>&1 || echo "warning: Graphviz (dot) is not installed and could not be (needs root and apt-get); install it to render SVG and PNG"; \
}

# Headless Chromium and its driver run the viewer's browser test (tests/test_viewer.py), which
# skips, saying why, where they are missing and cannot be installed this way.
BROWSER_INSTALL = { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi; \
	command -v chromedriver >/dev/null 2>&1 || echo "warning: chromium and chromedriver are not installed and could not be (needs root and apt-get); the browser test will skip"; \
}

# Every package, all extras included, at the exact version and hash of the lock file; then archspec
# itself, editable, built with the locked setuptools and adding nothing.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@$(GRAPHVIZ_INSTALL)
	touch $@

install: $(STAMP)

# Re-resolve the lock file from pyproject.toml: after a dependency is added, removed or its range
# changed. Pins that still fit are kept; `make lock UPGRADE=1` moves every package to its newest
# release that fits. Review the diff, then run `make test`.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --all-extras --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) -o $(LOCK) pyproject.toml

graphviz:
	@$(GRAPHVIZ_INSTALL)

browser:
	@$(BROWSER_INSTALL)

# The main job: list, check, summarise and render every bundled spec; results under out/.
run: $(STAMP) graphviz
	@mkdir -p out
	$(BIN)/archspec list
	$(BIN)/archspec check $(NETWORKS)
	@for spec in $(NETWORKS); do \
		name=$$(basename $$spec .yaml); \
		$(BIN)/archspec summary $$spec > out/$$name.summary.txt && \
		$(BIN)/archspec summary $$spec --format json > out/$$name.summary.json || exit 1; \
		echo "wrote out/$$name.summary.txt and out/$$name.summary.json"; \
	done
	@for spec in $(NETWORKS); do \
		name=$$(basename $$spec .yaml); \
		$(BIN)/archspec render $$spec --force -o out/$$name.blocks.dot || exit 1; \
		if ! command -v dot >/dev/null 2>&1; then \
			echo "warning: no Graphviz; wrote out/$$name.blocks.dot only"; continue; \
		fi; \
		$(BIN)/archspec render $$spec --force -o out/$$name.blocks.svg && \
		$(BIN)/archspec render $$spec --force -o out/$$name.blocks.png && \
		$(BIN)/archspec render $$spec --force --level layers -o out/$$name.layers.svg && \
		$(BIN)/archspec render $$spec --force -o out/$$name.html || exit 1; \
		for block in $$($(BIN)/archspec render $$spec --list-blocks); do \
			$(BIN)/archspec render $$spec --force --block $$block -o out/$$name.block.$$block.svg || exit 1; \
		done; \
		echo "wrote out/$$name.blocks.{dot,svg,png}, out/$$name.layers.svg, out/$$name.html and out/$$name.block.*.svg"; \
	done
	@for spec in $(ERRATA); do \
		name=$$(basename $$spec .yaml); \
		if $(BIN)/archspec check $$spec 2> out/$$name.errors.txt; then \
			echo "$$spec was expected to fail check"; exit 1; \
		fi; \
		echo "$$spec is rejected as it should be; see out/$$name.errors.txt"; \
	done

test: lint typecheck pytest

# The fast lane: the unit tests of the front end, the op kinds, the analyses, the tools, the command
# line and the weight files, without the slow ones (framework models, training, whole workflows).
FAST := tests/test_package.py tests/test_docs.py tests/frontend tests/ops tests/analysis tests/tools tests/cli tests/weights
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" $(FAST)

# Files whose definitions generated files copy: formatted at ruff's default width, as those files are.
COPIED = backends/torch/layers.py backends/tensorflow/layers.py archspec/ops/padding.py archspec/ops/attrs.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ruff format --check --line-length 88 $(COPIED)

# mypy finds a module by its path, and archspec.backends lives in backends/ (see pyproject.toml): it
# checks a tree of hard links laid out as the installed package, and its messages name the files git
# lists.
TYPECHECK := build/typecheck
typecheck: $(STAMP)
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	@cp -al archspec $(TYPECHECK)/archspec && cp -al backends $(TYPECHECK)/archspec/backends
	cd $(TYPECHECK) && ../../$(BIN)/mypy --config-file ../../pyproject.toml 2>&1 | sed 's#archspec/backends/#backends/#g'; exit $${PIPESTATUS[0]}

# Two workers, one thread each (tests/conftest.py says why); a module whose module fixture trains or
# builds something large runs whole on one worker. Then, alone, the tests marked all_cores: they
# print what a run on every core prints (the README's training). WORKERS=0: all in this process.
WORKERS ?= 2
pytest: $(STAMP) graphviz browser
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup -m "not all_cores" --durations=20
	$(BIN)/pytest -m all_cores

# Rewrite the golden files under tests/golden from the current code; review the diff before committing.
golden: $(STAMP)
	$(BIN)/python tests/update_golden.py

# Rewrite each op kind's part of archspec/schema/spec.schema.json from its definition in archspec/ops/.
schema: $(STAMP)
	$(BIN)/python -c "from archspec.frontend import schema; schema.write()"

clean:
	rm -rf $(VENV) out build .pytest_cache .mypy_cache .ruff_cache *.egg-info

# aura-operator — developer entry points. `make test` is what CI runs.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo

.PHONY: all build test testenv lint fmt crds demo bench clean-testenv

all: build

build:
	$(CARGO) build --locked --release

## Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
## kubectl, helm) from Go modules into ~/.cache once; fails loudly without Go.
testenv:
	tests/testenv/build >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Everything CI runs: lint, unit tests, integration tests on a real control
## plane with the Aura simulator, and the benchmark's small scale as a smoke
## test (cargo runs the harness-less bench once, without figures or plot).
test: testenv lint
	$(CARGO) test --locked --all-targets

## Regenerates crds/ from the code (one file per kind of src/api/kinds.rs), and its copies in the chart and deploy/
## (tests fail when any of them differ).
crds:
	$(CARGO) run --quiet --locked -- crd --dir crds >/dev/null
	tests/packaging/sync-crds

clean-testenv:
	rm -rf "$${AURA_TESTENV_CACHE:-$$HOME/.cache/aura-operator/testenv}"

## The whole thing on one machine: control plane, simulator, operator, an
## AuraInstance going to Ready. ARGS=--once exits after Ready.
demo:
	scripts/demo $(ARGS)

## The scale benchmark (issue 8): SCALE=small (about a minute) or full (1,000
## objects, tens of minutes); figures in target/bench/.
SCALE ?= full
bench: testenv
	$(CARGO) bench --locked --bench scale -- $(SCALE)

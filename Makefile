# aura-operator — developer entry points. `make test` is what CI runs.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo

.PHONY: all build test test-parts release-binary testenv lint fmt crds generate demo bench clean-testenv

all: build

build:
	$(CARGO) build --locked --release

## Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
## kubectl, helm) and the node of `run --node` (kubelet, kube-proxy,
## kube-scheduler, containerd; Debian's runc and CNI plugins unpacked) from Go
## modules into ~/.cache once; fails loudly without Go.
testenv:
	tests/testenv/build --node >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Everything CI runs: lint, unit tests, integration tests on a real control
## plane with the Aura simulator, and the benchmark's small scale as a smoke
## test (cargo runs the harness-less bench once, without figures or plot).
## The node tests (tests/e2e/node.rs) must run here: AURA_TESTENV_NODE=required
## turns their skip (no root, no cgroups) into a failure.
## The control plane's Go builds, lint and the release binary need nothing
## of each other and run side by side (cargo locks each profile's directory
## apart, and the release binary's one-unit LTO leaves a core idle for
## minutes); the tests then need all three.
test:
	$(MAKE) --no-print-directory -j3 test-parts
	AURA_TESTENV_NODE=required $(CARGO) test --locked --all-targets

test-parts: testenv lint release-binary

release-binary:
	$(CARGO) build --locked --release --bin aura-operator

## Regenerates every file derived from the list of kinds (src/api/kinds.rs): the CRDs in crds/, deploy/crds/
## and the chart, the chart's templates/_kinds.tpl, and the marked regions of deploy/rbac.yaml,
## deploy/kustomization.yaml and Chart.yaml (a unit test fails when any of them is out of date).
generate:
	$(CARGO) run --quiet --locked -- generate --root . >/dev/null

crds: generate

clean-testenv:
	rm -rf "$${AURA_TESTENV_CACHE:-$$HOME/.cache/aura-operator/testenv}"

## The whole thing on one machine: control plane, simulator, operator, an
## AuraInstance going to Ready. ARGS=--once exits after Ready; ARGS=--node runs
## the operator in a Pod on a real node (tests/testenv/run --node; root).
demo:
	scripts/demo $(ARGS)

## The scale benchmark (issue 8): SCALE=small (about a minute) or full (1,000
## objects, tens of minutes); figures in target/bench/.
SCALE ?= full
bench: testenv
	$(CARGO) bench --locked --bench scale -- $(SCALE)

# phase4-operator. `make run` and `make test` are the two commands a new
# machine needs; each installs what it lacks (make deps) and reuses the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := build

P4_VERSION ?= 0.1.0-dev
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
# Libraries come from Debian's -dev packages, found through pkg-config.
# Recursive (=) so they are read after `make deps` has installed them.
PKGS := libcurl yaml-0.1 libcjson libuv openssl zlib
# The helm version the operator is built and tested with (reported by --version and /metrics).
P4_HELM_VERSION := $(shell sed -n 's/^HELM_VERSION=//p' hack/versions.env)
P4_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Icontroller \
	-DP4_VERSION='"$(P4_VERSION)"' -DP4_HELM_VERSION='"$(P4_HELM_VERSION)"' \
	$(shell pkg-config --cflags $(PKGS))
P4_LIBS = $(shell pkg-config --libs $(PKGS)) -lm
TEST_LIBS = $(shell pkg-config --libs cmocka)

LIB_SRCS := $(shell find controller -name '*.c' ! -path 'controller/cmd/*' | sort)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard test/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/unit/%)
OPERATOR := $(BUILD)/phase4-operator
HEADERS := $(shell find include controller -name '*.h')

.PHONY: deps build unit argocd-health e2e image test run check bench bench-flux clean cluster-up cluster-down docs

deps:
	@hack/deps

build: $(OPERATOR)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(P4_CFLAGS) $(CFLAGS) -c $< -o $@

CMD_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard controller/cmd/*.c))

$(OPERATOR): $(CMD_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(P4_LIBS) -o $@

$(BUILD)/unit/%: test/unit/%.c $(LIB_OBJS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(P4_CFLAGS) $(CFLAGS) $< $(LIB_OBJS) $(P4_LIBS) $(TEST_LIBS) $(LDFLAGS) -o $@

# Unit tests (cmocka): every test binary runs, the target fails if any fails.
unit: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do $(UNIT_RUNNER) ./$$t || rc=1; done; exit $$rc

# The Argo CD health check (Lua) against the statuses recorded from e2e runs.
argocd-health:
	@hack/argocd-health

# End-to-end tests against the real local control plane, registry and chart
# repository (brought up and down here unless KUBECONFIG names a cluster).
e2e: build
	@hack/e2e

# The operator's image (Dockerfile) built with buildah against base images made
# here, pushed to the local registry with its chart, and unpacked for e2e.
image: deps
	@P4_VERSION=$(P4_VERSION) hack/image

test: deps
	@hack/lib-phase "chart" hack/chart check
	@hack/lib-phase "build" $(MAKE) --no-print-directory build
	@hack/lib-phase "docs reference" hack/docs-ref check
	@hack/lib-phase "unit tests" $(MAKE) --no-print-directory unit
	@hack/lib-phase "Argo CD health check" $(MAKE) --no-print-directory argocd-health
	@P4_VERSION=$(P4_VERSION) hack/lib-phase "image" hack/image
	@hack/lib-phase "e2e tests" $(MAKE) --no-print-directory e2e

run: deps build
	@hack/run

# The reference pages in docs/reference/ written again from the CRD, the code and --help.
docs: build
	@hack/docs-ref gen

# Sanitizers, valgrind and static analysis.
check: deps
	@hack/check

BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

$(BUILD)/bench/%: bench/%.c $(LIB_OBJS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(P4_CFLAGS) $(CFLAGS) $< $(LIB_OBJS) $(P4_LIBS) $(LDFLAGS) -o $@

# P4_BENCH_FLUX=1 adds the side-by-side benchmark against Flux (bench-flux).
bench: deps build $(BENCH_BINS)
	@bench/run
	@if [ "$${P4_BENCH_FLUX:-}" = 1 ]; then hack/flux build && bench/flux; fi

# Side by side with Flux source-controller + helm-controller, built from their
# Go modules by hack/flux (only here, never by `make deps`). P4_BENCH_N
# (default 100; e.g. "100 500 1000"), P4_BENCH_HIGH=1: see bench/flux.
bench-flux: deps build
	@hack/flux build
	@bench/flux

cluster-up:
	@hack/cluster up
cluster-down:
	@hack/cluster down

clean:
	rm -rf $(BUILD)
	-hack/run stop
	-hack/cluster down
	-hack/registry down
	-hack/charts down

# sluice — the two set-up commands are `make run` and `make test`.
# Both install what is missing (Debian 12, apt-get), build, and then run or test.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_DIR ?= build/release
ASAN_DIR ?= build/asan
FUZZ_DIR ?= build/fuzz
CONFIG ?=
# ccache: paths under the checkout are hashed relative to it (and debug
# builds without their directory), so a fresh clone elsewhere reuses what
# another clone compiled.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

# Build and test dependencies, all from Debian 12.
DEB_PACKAGES := build-essential cmake ninja-build ccache pkg-config \
  libboost-dev libboost-system-dev libyaml-cpp-dev libcli11-dev libsimdjson-dev \
  libspdlog-dev libfmt-dev libsnappy-dev libzstd-dev zlib1g-dev libxxhash-dev \
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc libabsl-dev \
  libgtest-dev libgmock-dev libbenchmark-dev clang-format clang libclang-rt-14-dev openssl \
  librdkafka-dev libssl-dev libre2-dev prometheus prometheus-node-exporter victoria-metrics \
  curl bc python3 libpq-dev postgresql lld \
  chromium
# node and npm for the web UI (ui/, built by CMake with `npm ci` and `npm run
# build`; chromium runs its browser test) and the OpenTelemetry JS interop
# tests (tests/interop/js): from
# Debian (node 18) unless some node and npm are already on PATH, e.g. a
# NodeSource build, whose nodejs package conflicts with Debian's npm.
DEB_PACKAGES += $(if $(shell command -v node && command -v npm),,nodejs npm)

# The npm packages of the tests: the OpenTelemetry JS SDK, and playwright-core
# for the browser test of the UI (tests/ui).
JS_DIRS := tests/interop/js tests/ui

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps js-deps build build-asan build-fuzz run test test-release test-asan test-fuzz bench format lint clean

# Idempotent and quiet: asks apt only for packages that are not installed yet.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Each directory's packages pinned by its package-lock.json, installed again
# only when the lock file changes. npm's output is shown only if it fails.
# (ui/ itself is installed by its CMake build: src/ui/CMakeLists.txt.)
js-deps: $(addsuffix /node_modules/.package-lock.json,$(JS_DIRS))

%/node_modules/.package-lock.json: %/package.json %/package-lock.json | deps
	@echo "installing: $* (npm ci)"
	@out=$$(npm ci --prefix $* --no-audit --no-fund --loglevel=error 2>&1) || \
	  { echo "$$out"; exit 1; }
	@touch $@

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON

$(FUZZ_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

build-fuzz: deps $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/src/app/sluice run $(if $(CONFIG),--config $(CONFIG))

test-release: build js-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-asan: build-asan js-deps
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# Each libFuzzer target for its time budget, after replaying its seeds and
# regressions (tests/fuzz/README.md).
test-fuzz: build-fuzz
	cd $(FUZZ_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test: test-release test-asan test-fuzz

bench: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BENCH=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)
	bench/run.sh $(BUILD_DIR)

format:
	tools/format.sh

# The source checks the release ctest run also makes (tests/tools), without
# building: formatting and the module boundaries of tools/module_deps.txt.
lint:
	tools/format.sh --check
	python3 tools/check_module_deps.py

clean:
	rm -rf build

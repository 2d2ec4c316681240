# headroom: the two commands a new user needs are `make demo` and `make test`.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps deps-tests build test test-fast test-san demo bench clean install uninstall deb

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The packages of the tests that need more than the build: the node agent's (containerd, runc,
# podman, node/npm: tests/it_node_*.sh, it_deploy_*.sh), the demo services' and the runtimes'
# toolchains (it_demo_services, it_heap_runtimes), the browser (it_html_report) and the VM
# (it_cgroup_v2_vm). Installed before ctest starts, so no test spends its TIMEOUT on apt and no
# test depends on another having installed something. Not fatal: where they cannot be installed
# (not root, no network), each test tries its own group again and skips.
deps-tests:
	@bash scripts/install-deps.sh node demo runtimes browser vm || \
	  echo "make: some test packages are missing: the tests that need them will try again or skip"

# The whole suite, then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, with
# the short libFuzzer runs of fuzz/ (label fuzz; long runs: scripts/fuzz-long.sh).
test: build deps-tests
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-san

test-fast: build deps-tests
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(BUILD_SAN)/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD_SAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	  -DHEADROOM_SANITIZE=address,undefined -DHEADROOM_FUZZ=ON

test-san: deps $(BUILD_SAN)/CMakeCache.txt
	@grep -q '^HEADROOM_FUZZ:BOOL=ON' $(BUILD_SAN)/CMakeCache.txt || cmake -DHEADROOM_FUZZ=ON $(BUILD_SAN) >/dev/null
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash bench/run-all.sh $(BUILD)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the heap shim in the multiarch lib
# directory, man pages, completions, docs (scripts/install.sh checks the paths first)
install: build
	@bash scripts/install.sh install "$(BUILD)" "$(PREFIX)" "$(DESTDIR)"

uninstall:
	@bash scripts/install.sh uninstall "$(BUILD)" "$(PREFIX)" "$(DESTDIR)"

# The .deb, from its own /usr-prefixed release build: build-deb/headroom_<version>_<arch>.deb
deb: deps
	cmake -S . -B build-deb $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr
	cmake --build build-deb -j $(JOBS) --target headroom headroom-heap man changelog
	cd build-deb && cpack -G DEB

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-deb

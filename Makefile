# lamina: top-level entry points. CMake does the real work in build/.
BUILD ?= build
JOBS ?= $(shell nproc)
RANKS ?= 2
MPIRUN ?= mpirun --oversubscribe --allow-run-as-root --bind-to none
DEMO_CONFIG ?= configs/fashion-mnist-lenet.yaml

.PHONY: all deps test-deps build demo check test sanitize bench clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --with-tests

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	$(MPIRUN) -n $(RANKS) $(BUILD)/lamina train $(DEMO_CONFIG) --out runs/demo

check: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test: check

# Unit tests under AddressSanitizer + UBSan in a separate build tree.
sanitize: test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLMN_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit -j $(JOBS)

bench: build
	@scripts/install-deps.sh --with-bench
	bench/run.sh

clean:
	rm -rf $(BUILD) build-asan

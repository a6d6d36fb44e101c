# lamina: top-level entry points. CMake does the real work in build/.
BUILD ?= build
JOBS ?= $(shell nproc)
RANKS ?= 2
MPIRUN ?= mpirun --oversubscribe --allow-run-as-root --bind-to none
DEMO_CONFIG ?= configs/fashion-mnist-lenet.yaml

.PHONY: all deps test-deps build install demo check test sanitize bench clean fuzz-deps fuzz-build fuzz fuzz-smoke

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --with-tests

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# make install PREFIX=DIR: bin/lamina, lib/liblamina.so, include/lamina.h
# and lib/pkgconfig/lamina.pc (cc prog.c $$(pkg-config --cflags --libs lamina)).
PREFIX ?= /usr/local

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

demo: deps build
	$(MPIRUN) -n $(RANKS) $(BUILD)/lamina train $(DEMO_CONFIG) --out runs/demo --overwrite

check: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test: check

# Unit tests under AddressSanitizer + UBSan in a separate build tree.
sanitize: test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLMN_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit -j $(JOBS)

# libFuzzer harnesses (tests/fuzz) under ASan+UBSan, built with clang in
# their own tree. `make fuzz` runs each target for FUZZ_SECONDS or FUZZ_RUNS
# executions, whichever comes first, FUZZ_JOBS at a time (defaults: about
# 10 minutes for all on 2 cores); `make fuzz-smoke` runs each for 20 s.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 150
FUZZ_RUNS ?= 1000000
FUZZ_JOBS ?= 2

fuzz-deps:
	@scripts/install-deps.sh --with-fuzz

fuzz-build: fuzz-deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMN_FUZZ=ON
	cmake --build $(FUZZ_BUILD) --target fuzz -j $(JOBS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_JOBS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) 20 0 $(FUZZ_JOBS)

bench: build
	@scripts/install-deps.sh --with-bench
	bench/run.sh

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)

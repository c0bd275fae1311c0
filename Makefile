# Thin wrapper over Meson + Ninja. The two commands a newcomer needs:
#   make play   installs what is missing, builds, starts the default game
#   make test   installs, builds with ASan+UBSan, runs unit and end-to-end tests
BUILD ?= build
SAN   ?= build-asan
SCENARIO ?= scenarios/unicorn-rentals.yaml
PLAYFLAGS ?=

.PHONY: all play test deps clean format FORCE

all: $(BUILD)/gameday

$(BUILD)/gameday: FORCE
	@[ -f node_modules/uplot/dist/uPlot.iife.min.js ] || scripts/install-deps.sh
	@scripts/setup-build.sh $(BUILD) release
	@ninja -C $(BUILD)

deps:
	@scripts/install-deps.sh

play: deps all
	$(BUILD)/gameday play $(SCENARIO) $(PLAYFLAGS)

test: deps
	@scripts/setup-build.sh $(SAN) sanitize
	@ninja -C $(SAN)
	@scripts/run-tests.sh $(SAN)

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf $(BUILD) $(SAN)

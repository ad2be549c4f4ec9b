# Shared experiences backend. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
GO ?= go
NPM ?= npm
GO_TEST_FLAGS ?=
# Emulator-backed tests fail (instead of skipping) when the emulators cannot start.
export EMULATORS_REQUIRED ?= 1

NODE_STAMP := emulator/node_modules/.package-lock.json

.PHONY: help run test unit lint fuzz bench soak deploy deploy-dry-run smoke clean

help:
	@echo "make run             the whole stack on the local emulators (Ctrl-C stops it)"
	@echo "make test            every test, against the real emulators"
	@echo "make unit            unit tests only (no emulators)"
	@echo "make lint            gofmt, go vet, staticcheck"
	@echo "make fuzz            each fuzz target for FUZZTIME (default 30s)"
	@echo "make soak            seeded random histories with faults and crashes (SEEDS, DURATION, SEED)"
	@echo "make bench           the benchmark scenarios on a fresh stack; writes bench/RESULTS.md"
	@echo "make deploy          rules, indexes, TTL (firebase) and functions, topics, schedules (gcloud)"
	@echo "make deploy-dry-run  print every deploy command and check what can be checked offline"
	@echo "make smoke           the Firebase JS SDK against a running 'make run'"

# npm ci only when the lock file changed since the last install.
$(NODE_STAMP): emulator/package.json emulator/package-lock.json
	cd emulator && $(NPM) ci --no-audit --no-fund
	@touch $@

# Built, then run directly (not `go run`), so Ctrl-C reaches the runner itself.
run: $(NODE_STAMP)
	@mkdir -p bin
	$(GO) build -o bin/run ./emulator/cmd/run
	bin/run

test: $(NODE_STAMP)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m $(GO_TEST_FLAGS) ./...

unit:
	EMULATORS_REQUIRED=0 $(GO) test -short -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Targets are found in the sources: `go test -list` would run each package's
# TestMain, which starts the emulators.
FUZZTIME ?= 30s
fuzz:
	@set -e; for dir in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2); do \
	    echo "== ./$$dir $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./$$dir; \
	  done; \
	done

# BENCH_FLAGS sizes the scenarios (go run ./bench -h lists them).
BENCH_FLAGS ?=
bench: $(NODE_STAMP)
	$(GO) run ./bench $(BENCH_FLAGS)

# Seeded random histories against the stack (emulator/soak): SEEDS of them
# from SEED_BASE (default: the clock), for at most DURATION; SEED=n replays
# one script. Failing histories are saved to SOAK_OUT (default /tmp).
SEEDS ?= 200
DURATION ?= 1h
SEED_BASE ?= $(shell date +%s)
ROUNDS ?= 30
soak: $(NODE_STAMP)
	SEEDS=$(SEEDS) DURATION=$(DURATION) SEED_BASE=$(SEED_BASE) ROUNDS=$(ROUNDS) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./emulator/soak

smoke: $(NODE_STAMP)
	cd emulator && node smoke/client.mjs

deploy: $(NODE_STAMP)
	$(GO) run ./functions/cmd/deploy $(ARGS)

deploy-dry-run:
	$(GO) run ./functions/cmd/deploy -dry-run $(ARGS)

clean:
	rm -rf emulator/node_modules

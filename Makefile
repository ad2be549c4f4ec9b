# Shared experiences backend. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
GO ?= go
NPM ?= npm
GO_TEST_FLAGS ?=
# Emulator-backed tests fail (instead of skipping) when the emulators cannot start.
export EMULATORS_REQUIRED ?= 1

NODE_STAMP := emulator/node_modules/.package-lock.json

.PHONY: help run seed client test unit lint fuzz bench soak deploy deploy-dry-run smoke clean

help:
	@echo "make run             the whole stack on the local emulators (Ctrl-C stops it)"
	@echo "make seed            a call and its members' users in a running 'make run' (CALL=call1 USERS=alice,bob)"
	@echo "make client          a participant (JS SDK) in the call's session: AS=bob CALL=call1 [AT=host]"
	@echo "make test            every test, against the real emulators"
	@echo "make unit            unit tests only (no emulators)"
	@echo "make lint            gofmt, go vet, staticcheck (all checks)"
	@echo "make fuzz            each fuzz target for FUZZTIME (default 30s)"
	@echo "make soak            seeded random histories with faults and crashes (SEEDS, DURATION, SEED)"
	@echo "make bench           the benchmark scenarios on a fresh stack; writes bench/RESULTS.md"
	@echo "make deploy          APIs, accounts, roles, rules, indexes, TTL, topics, functions, schedules (ARGS=\"-project P\")"
	@echo "make deploy-dry-run  the plan, offline checks, and the whole deploy against a local stand-in"
	@echo "make smoke           the Firebase JS SDK against a running 'make run'"

# npm ci only when the lock file changed since the last install. Optional
# dependencies are left out: the only heavy one, re2 (compiled from source
# here, most of a full install's time), serves firebase-tools' Hosting
# emulator, which falls back to JavaScript regexps without it; the Auth
# emulator, the rules and indexes deploy and the JS SDK never load it.
$(NODE_STAMP): emulator/package.json emulator/package-lock.json
	cd emulator && $(NPM) ci --no-audit --no-fund --omit=optional
	@touch $@

# Debian's Chromium, for the inspector's browser test (emulator/inspector),
# installed as root or through sudo; a font so its screenshot has text.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "make: install Debian's chromium package (as root: apt-get install chromium)" >&2; exit 1; fi; \
	set -x; $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-dejavu-core

# Built, then run directly (not `go run`), so Ctrl-C reaches the runner itself.
# The build runs while npm installs: on a fresh clone both take tens of
# seconds, and neither needs the other.
run:
	@mkdir -p bin
	@echo "$(GO) build -o bin/run ./emulator/cmd/run (while npm installs)"
	@$(GO) build -o bin/run ./emulator/cmd/run & build=$$!; \
	  $(MAKE) --no-print-directory $(NODE_STAMP) || { kill $$build 2>/dev/null; exit 1; }; \
	  wait $$build
	bin/run

# A call with members, and their Auth users, for manual testing against a
# running `make run`; prints how a client signs in as each.
CALL ?= call1
USERS ?= alice,bob
seed:
	$(GO) run ./emulator/cmd/seed -call '$(CALL)' -users '$(USERS)'

# A second participant, in the terminal: joins CALL's session as AS (a seeded
# user), prints the events as they arrive, takes commands (page N, leave...).
# AT is where the stack is (firebase.json's ports).
AS ?= bob
AT ?= 127.0.0.1
client: $(NODE_STAMP)
	cd emulator && node smoke/participant.mjs '$(AS)' '$(CALL)' '$(AT)'

test: $(NODE_STAMP) $(CHROMIUM)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m $(GO_TEST_FLAGS) ./...

unit:
	EMULATORS_REQUIRED=0 $(GO) test -short -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -checks all ./...

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
	$(GO) run ./deploy/cmd/deploy $(ARGS)

deploy-dry-run: $(NODE_STAMP)
	$(GO) run ./deploy/cmd/deploy -dry-run $(ARGS)

clean:
	rm -rf emulator/node_modules

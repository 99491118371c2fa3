# The dev loop: `make test` is what CI runs (see .ci/run).
GOBIN := $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: test deps proto proto-check tidy-check fmt lint build fuzz mutate chaos

# The linter, pinned; `go run` fetches it from the module proxy once and
# caches it, so a fresh machine needs nothing else (and go.mod stays free
# of tools).
STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

test: deps proto-check tidy-check lint
	go test -timeout 25m ./...
	go test -race -timeout 10m ./relay/... ./client-sdk/... ./link/...

deps:
	./scripts/deps.sh

# Regenerates the committed Go code from proto/ with Debian's protoc and the
# pinned protoc-gen-go (installed by `make deps`).
proto:
	protoc --proto_path=proto --go_out=. --go_opt=module=github.com/medrelay/medrelay proto/medrelay/v1/*.proto

# Fails when the committed generated code differs from what `make proto` makes.
proto-check:
	@tmp=$$(mktemp -d) && \
	protoc --proto_path=proto --go_out=$$tmp --go_opt=module=github.com/medrelay/medrelay proto/medrelay/v1/*.proto && \
	for f in $$(cd $$tmp && find . -name '*.pb.go'); do \
	  cmp -s $$tmp/$$f $$f || { echo "generated code is stale: $$f (run make proto)"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp

# Fails when `go mod tidy` would change go.mod or go.sum.
tidy-check:
	@go mod tidy -diff >/dev/null 2>&1 || { go mod tidy -diff; echo "go.mod/go.sum are not tidy (run go mod tidy)"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }
	go vet ./...
	$(STATICCHECK) ./...

build:
	go build -o bin/ ./cmd/...

# Runs every fuzz target for FUZZTIME each (scripts/fuzz.sh); `make test`
# only replays the checked-in seeds.
FUZZTIME ?= 1m
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Breaks the product on purpose, one named mutation at a time, and checks
# that the tests notice (tests/mutate/mutations.go holds the list).
mutate:
	go run ./tests/mutate $(MUTATE_FLAGS)

# The chaos suite, long form: ROUNDS rounds of faults (kill -9, main
# down, links cut) under load. Ends with one line, "chaos: rounds R, ...",
# and fails unless nothing was lost, doubled or reordered. The full log
# stays in a temporary file, named on failure.
ROUNDS ?= 5
chaos:
	@log=$$(mktemp /tmp/medrelay-chaos-XXXXXX.log); \
	CHAOS_ROUNDS=$(ROUNDS) go test -count=1 -timeout 0 -v -run '^TestChaos$$' ./tests/ >$$log 2>&1; rc=$$?; \
	if [ $$rc -ne 0 ]; then grep -E -- '--- FAIL|never arrived|delivered [0-9]+ times|not back to baseline|audit verify|has no reason|file of' $$log | head -40; echo "log: $$log"; fi; \
	line=$$(grep '^chaos: rounds' $$log | tail -1); \
	[ -n "$$line" ] || line="chaos: rounds 0, faults 0, envelopes 0, lost 0, duplicates 0, order violations 0 (the suite did not finish: see $$log)"; \
	echo "$$line"; exit $$rc

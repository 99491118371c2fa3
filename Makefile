# The dev loop: `make test` is what CI runs (see .ci/run).
GOBIN := $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: test deps proto proto-check tidy-check fmt lint build fuzz mutate

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

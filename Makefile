# kbridge: `make run` starts the whole system locally, `make test` runs every test.

GO            ?= go
BIN           ?= bin/kbridge
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X main.version=$(VERSION)
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT  ?= 30m
BENCH         ?= .
BENCH_COUNT   ?= 5
BENCH_TIME    ?= 1s

.PHONY: all build run test test-deps compose-check bench bench-intake soak lint fmt fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kbridge

## run: the whole system locally (kbridge dev): embedded Kafka broker, Storage API emulator, kbridge.
run: build
	$(BIN) $(or $(RUN_ARGS),dev --data-dir data)

## test-deps: installs what the tests need (gcc for -race, kcat) when missing; see .ci/test-deps.
test-deps:
	@.ci/test-deps

## compose-check: docker compose's own check of docker-compose.yml, where Docker Compose is
## installed; go test ./deploy checks the file with compose-go everywhere.
compose-check:
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	elif command -v docker-compose >/dev/null; then docker-compose -f docker-compose.yml config -q; \
	else echo "compose-check: Docker Compose is not installed; go test ./deploy checks docker-compose.yml"; fi

## test: lint (go vet, staticcheck), the compose file check and every test, race detector on.
test: test-deps lint compose-check
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: Go benchmarks, medians over BENCH_COUNT runs (benchstat-friendly output).
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) ./...

## bench-intake: the HTTP intake against a bare net/http server with wrk (apt-get install -y wrk),
## alternated in one run, medians of BENCH_INTAKE_ROUNDS runs of BENCH_INTAKE_DURATION each:
## sync.wait=false and the bare server at 256 connections, sync.wait=true at 2,048, NDJSON.
## Not part of make test (docs/http.md, "Performance").
BENCH_INTAKE_ROUNDS   ?= 5
BENCH_INTAKE_DURATION ?= 5s
bench-intake:
	@command -v wrk >/dev/null || { echo "bench-intake needs wrk: apt-get install -y wrk"; exit 1; }
	ulimit -n $$(ulimit -Hn) && KBRIDGE_INTAKE_BENCH=1 KBRIDGE_INTAKE_ROUNDS=$(BENCH_INTAKE_ROUNDS) \
		KBRIDGE_INTAKE_DURATION=$(BENCH_INTAKE_DURATION) $(GO) test -run '^TestIntakeVersusBare$$' -count=1 -v -timeout 60m ./bridge/intake

## soak: SOAK (20m) of steady Kafka and HTTP load against the built binary: RSS, heap, goroutines,
## descriptors, lag and rows every 10 s, every row checked at the end (docs/operations.md).
SOAK ?= 20m
soak: build
	KBRIDGE_SOAK=$(SOAK) KBRIDGE_SOAK_BIN=$(abspath $(BIN)) $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 3h ./cmd/kbridge

## fuzz: a short run of every fuzz target; FuzzShortcuts draws new seeds (make test runs its fixed ones).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRender -fuzztime 30s -fuzzminimizetime 5s ./mapping
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime 15s -fuzzminimizetime 5s ./mapping
	$(GO) test -run '^$$' -fuzz FuzzShortcuts -fuzztime 60s -fuzzminimizetime 5s ./mapping

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -s -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# hzhook: `make test` runs every test, starting PostgreSQL and the Pub/Sub emulator itself.
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin
LDFLAGS   ?= -s -w
FUZZTIME  ?= 200000x

.PHONY: all build test vet test-short tools fuzz faults bench bench-tracing clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet $(PKGS)

## test: go vet and every test with the race detector, with the services the tests need (and the
## helm CLI of make tools). The fault scenarios (internal/faults) kill real processes and take
## minutes: make faults runs them.
test: vet tools
	HELM=$(HELM) scripts/with-services.sh $(GO) test -race -count=1 -timeout 20m $(PKGS)
	@echo "make test: the fault scenarios of internal/faults were skipped; run them with make faults (CI does)"

## test-short: unit tests only, no services.
test-short:
	$(GO) test -short -count=1 $(PKGS)

## tools: the helm CLI internal/deploycheck renders deploy/helm/hzhook with, built from its Go module
## at a pinned version into bin/tools (not a project dependency: go install ignores our go.mod).
## Stamped like helm's own release builds (its version, and Kubernetes 1.$(HELM_K8S_MINOR) from the
## client-go it is built with as the default of --kube-version). Rebuilt only when the version differs.
HELM_VERSION   ?= v3.22.0
HELM_K8S_MINOR ?= 37
HELM           ?= $(abspath $(BIN))/tools/helm
HELM_LDFLAGS   := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR)
tools:
	@if [ "$$($(HELM) version --template '{{.Version}}' 2>/dev/null)" != "$(HELM_VERSION)" ]; then \
		echo "building helm $(HELM_VERSION) into $(dir $(HELM))"; \
		GOBIN=$(dir $(HELM)) CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); \
	fi

## fuzz: each fuzz target for $(FUZZTIME) executions (a count, not a duration: Go 1.26's fuzz
## coordinator can fail a clean run with "context deadline exceeded" when a -fuzztime duration ends,
## go.dev/issue/75804), corpus under testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignature$$' -fuzztime $(FUZZTIME) ./internal/verify/
	$(GO) test -run '^$$' -fuzz '^FuzzSubject$$' -fuzztime $(FUZZTIME) ./internal/queue/
	$(GO) test -run '^$$' -fuzz '^FuzzReadJournalEntry$$' -fuzztime $(FUZZTIME) ./internal/queue/
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvelope$$' -fuzztime $(FUZZTIME) ./internal/events/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCTEntry$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/events/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCertificate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/events/
	$(GO) test -run '^$$' -fuzz '^FuzzLint$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/lint/

## faults: kill and stop real processes under load; prints scenario, sent, 204s, stored, lost, duplicates.
faults:
	HZ_FAULTS=1 scripts/with-services.sh $(GO) test -count=1 -v -timeout 30m ./internal/faults/

## bench: benchmarks side by side with their baselines; results in bench/results.md.
## intake (bare vs hand-rolled vs hzhook), end-to-end latency at BENCH_RATE events/s, worker drain
## (SQLite and PostgreSQL vs one transaction per message; SQLite with the lint stage running beside
## the writer, BENCH_DRAIN_LINT=false to leave it out), lint throughput per core (default vs all
## zlint sources), console page times with BENCH_CONSOLE_CERTS certificates. BENCH_NOTE is printed
## with the results.
BENCH_RUNS           ?= 3
BENCH_DURATION       ?= 10s
BENCH_RATE           ?= 1000
BENCH_DRAIN_EVENTS   ?= 100000
BENCH_DRAIN_BASELINE ?= 20000
BENCH_CONSOLE_CERTS  ?= 100000
BENCH_DRAIN_LINT     ?= true
BENCH_LINT_CERTS     ?= 1427
BENCH_NOTE           ?=
bench:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/receiver ./cmd/worker ./cmd/hzctl ./cmd/hzbench github.com/nats-io/nats-server/v2
	$(BIN)/hzbench intake --bin $(BIN) --runs $(BENCH_RUNS) --duration $(BENCH_DURATION) --note "$(BENCH_NOTE)" --out bench/results.md
	$(BIN)/hzbench cluster --bin $(BIN) --runs $(BENCH_RUNS) --duration $(BENCH_DURATION) --note "$(BENCH_NOTE)" --out bench/results.md
	$(BIN)/hzbench e2e --bin $(BIN) --runs $(BENCH_RUNS) --duration $(BENCH_DURATION) --rate $(BENCH_RATE) --note "$(BENCH_NOTE)" --out bench/results.md
	HZ_WITH_DURABLE_POSTGRES=1 scripts/with-services.sh $(BIN)/hzbench drain --go $(GO) --events $(BENCH_DRAIN_EVENTS) --baseline-events $(BENCH_DRAIN_BASELINE) --lint=$(BENCH_DRAIN_LINT) --note "$(BENCH_NOTE)" --out bench/results.md
	$(BIN)/hzbench lint --go $(GO) --certs $(BENCH_LINT_CERTS) --note "$(BENCH_NOTE)" --out bench/results.md
	scripts/with-services.sh $(BIN)/hzbench console --go $(GO) --certificates $(BENCH_CONSOLE_CERTS) --note "$(BENCH_NOTE)" --out bench/results.md

## bench-tracing: only hzhook's default set-up with tracing off and on (spans to a stand-in OTLP
## collector in hzbench), interleaved; its own section of bench/results.md. make bench has both rows.
bench-tracing:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/receiver ./cmd/hzctl ./cmd/hzbench
	$(BIN)/hzbench intake --tracing-only --bin $(BIN) --runs $(BENCH_RUNS) --duration $(BENCH_DURATION) --note "$(BENCH_NOTE)" --out bench/results.md

clean:
	rm -rf $(BIN)

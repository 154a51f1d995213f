# loadlab: every target echoes its steps as ">> step" (Prometheus' Makefile.common style).
GO          ?= go
BIN         := $(CURDIR)/bin
PROM_VERSION := v0.316.0
# uPlot (npm, MIT), vendored into internal/htmlreport/uplot/ by `make vendor-uplot`; TestVendoredUPlot checks the pin.
UPLOT_VERSION := 1.6.32
# The Go runtime's sysmon wakes on every syscall of an otherwise idle P, which
# doubles the CPU cost of an open-model generator in this kind of VM
# (README.md, "The runtime fix"). schedtrace set to a huge period keeps
# sysmon on its 10 ms back-off; re-check on each Go upgrade.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_DATE  ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LOADGEN_LDFLAGS := -X=runtime.godebugDefault=schedtrace=2147483647 -X=github.com/loadlab/loadlab/internal/metrics.Version=$(VERSION) \
	-X=github.com/loadlab/loadlab/internal/metrics.Commit=$(COMMIT) -X=github.com/loadlab/loadlab/internal/metrics.BuildDate=$(BUILD_DATE)
# Packages whose tests are accuracy (timing) tests run a second time without -race.
ACCURACY_RUN := ^TestAccuracy

.PHONY: all build test mariadb chromium kustomize vendor-uplot test-short test-race test-accuracy test-fuzz check-rules tools lint demo bench clean update-golden check-plans up down dashboards check-dashboards test-grafana

all: lint test build

build:
	@echo ">> building bin/loadgen and bin/target"
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LOADGEN_LDFLAGS)' -o $(BIN)/loadgen ./cmd/loadgen
	$(GO) build -o $(BIN)/target ./cmd/target

tools: $(BIN)/prometheus $(BIN)/promtool

$(BIN)/prometheus:
	@echo ">> installing prometheus $(PROM_VERSION) into bin/ (about 6 minutes the first time)"
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/prometheus/prometheus/cmd/prometheus@$(PROM_VERSION)

$(BIN)/promtool:
	@echo ">> installing promtool $(PROM_VERSION) into bin/"
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROM_VERSION)

# test: everything (unit, race, MySQL, Prometheus end-to-end, HTML report in a real browser, accuracy).
test: mariadb chromium tools kustomize build check-rules check-dashboards test-grafana test-race test-accuracy test-fuzz check-plans

# kustomize: the deploy/kubernetes test renders with `kubectl kustomize`; without
# kubectl, the same kustomize (v5.5, as in kubectl 1.32) is built into bin/.
KUSTOMIZE_VERSION := v5.5.0
kustomize:
	@command -v kubectl >/dev/null 2>&1 || [ -x $(BIN)/kustomize ] || { \
	  echo ">> installing kustomize $(KUSTOMIZE_VERSION) into bin/ (no kubectl)"; mkdir -p $(BIN); \
	  GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); }

# mariadb: the MySQL tests need MariaDB on 127.0.0.1:3306; installed and started when missing.
mariadb:
	@bash scripts/ensure-mariadb.sh

# chromium: the HTML report's browser test needs a headless Chromium; installed when missing.
chromium:
	@bash scripts/ensure-chromium.sh

# vendor-uplot: re-vendor the chart library of the HTML report at UPLOT_VERSION (needs npm).
vendor-uplot:
	@bash scripts/vendor-uplot.sh $(UPLOT_VERSION)

test-race:
	@echo ">> go test -race (unit, integration, MySQL, Prometheus end-to-end)"
	$(GO) test -race -count=1 -timeout 20m ./...

# One package at a time: accuracy tests measure time and must not compete for the 2 cores.
test-accuracy:
	@echo ">> accuracy tests without -race (timing-sensitive)"
	$(GO) test -p 1 -count=1 -timeout 20m -run '$(ACCURACY_RUN)' ./...

test-fuzz:
	@echo ">> fuzzing the plan parser and the plan's numbers (short budgets)"
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 15s ./internal/plan
	$(GO) test -run '^$$' -fuzz '^FuzzPlanNumbers$$' -fuzztime 10s ./internal/plan

check-rules: tools
	@echo ">> promtool check config, check rules, test rules"
	$(BIN)/promtool check config prometheus/prometheus.yml
	$(BIN)/promtool check rules prometheus/rules/*.yml
	$(BIN)/promtool test rules prometheus/tests/*.yml

# dashboards: regenerate grafana/dashboards/*.json and grafana/queries.json from
# grafana/boards (its own Go module, so the Grafana SDK stays out of the binaries).
dashboards:
	@echo ">> generating the Grafana dashboards (grafana/boards)"
	cd grafana && $(GO) generate ./...

# check-dashboards: the committed dashboards and query manifest are what the
# generator produces (generated into a temporary directory and compared).
check-dashboards:
	@echo ">> checking grafana/dashboards and grafana/queries.json against the generator"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd grafana && $(GO) run ./cmd/gendashboards -out "$$tmp") && \
	  diff -ru grafana/dashboards "$$tmp/dashboards" && diff -u grafana/queries.json "$$tmp/queries.json" || \
	  { echo "grafana/ differs from the generator: run make dashboards and commit the result"; exit 1; }

test-grafana:
	@echo ">> go vet and go test of the dashboard generator (grafana/)"
	cd grafana && $(GO) vet ./... && $(GO) test -count=1 ./...

check-plans: build
	@echo ">> loadgen validate testplans/*.yaml"
	$(BIN)/loadgen validate testplans/*.yaml

test-short:
	@echo ">> go test -short"
	$(GO) test -short ./...

lint:
	@echo ">> gofmt"
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo ">> go vet"
	$(GO) vet ./...
	cd grafana && $(GO) vet ./...

demo: build
	@echo ">> demo: target + quickstart plan on embedded defaults"
	@bash scripts/demo.sh

# bench: the side-by-side performance harness (installs wrk, hey, nginx and vegeta; minutes; never part of make test).
bench:
	@echo ">> bench/run.sh $(BENCH_ARGS)"
	bash bench/run.sh $(BENCH_ARGS)

update-golden:
	$(GO) test ./... -update

up:
	docker compose up -d --build

down:
	docker compose down

clean:
	@echo ">> cleaning bin/"
	rm -rf $(BIN)

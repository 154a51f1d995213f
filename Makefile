# loadlab: every target echoes its steps as ">> step" (Prometheus' Makefile.common style).
GO          ?= go
BIN         := $(CURDIR)/bin
PROM_VERSION := v0.316.0
# The Go runtime's sysmon wakes on every syscall of an otherwise idle P, which
# doubles the CPU cost of an open-model generator in this kind of VM
# (../shared/notes/generator-design.md). schedtrace set to a huge period keeps
# sysmon on its 10 ms back-off; re-check on each Go upgrade.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LOADGEN_LDFLAGS := -X=runtime.godebugDefault=schedtrace=2147483647 -X=github.com/loadlab/loadlab/internal/metrics.Version=$(VERSION)
# Packages whose tests are accuracy (timing) tests run a second time without -race.
ACCURACY_RUN := ^TestAccuracy

.PHONY: all build test mariadb test-short test-race test-accuracy test-fuzz check-rules tools lint demo bench clean update-golden check-plans up down

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

# test: everything (unit, race, MySQL, Prometheus end-to-end, accuracy).
test: mariadb tools build check-rules test-race test-accuracy test-fuzz check-plans

# mariadb: the MySQL tests need MariaDB on 127.0.0.1:3306; installed and started when missing.
mariadb:
	@bash scripts/ensure-mariadb.sh

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

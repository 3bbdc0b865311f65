# ukeygate — build, run and test. `make run` is the quick start; `make test`
# is the one test command (CI runs it through .ci/run).

GO        ?= go
BIN       := bin/ukeygate
CONFIG    ?= config.example.yaml
DATA_DIR  ?= ./data
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME  ?= 10s
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: build run test node-deps lint bench fuzz clean

## build: compile bin/ukeygate with the version stamped in
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ukeygate

## run: build, create the master key and an admin token on first use, serve
##      config.example.yaml (demo on, http://127.0.0.1:8080). Ctrl-C stops.
run: build
	@test -f $(DATA_DIR)/master.key || UKEYGATE_DATA_DIR=$(DATA_DIR) ./$(BIN) --config $(CONFIG) init
	@test -s $(DATA_DIR)/admin.token || { (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > $(DATA_DIR)/admin.token); \
		echo "admin token written to $(DATA_DIR)/admin.token (export UKEYGATE_ADMIN_TOKEN=\$$(cat $(DATA_DIR)/admin.token))"; }
	UKEYGATE_DATA_DIR=$(DATA_DIR) UKEYGATE_ADMIN_TOKEN=$$(cat $(DATA_DIR)/admin.token) ./$(BIN) --config $(CONFIG) serve

## test: every test of every package, with the race detector (first the
##       pinned npm packages the node tests and examples/node run)
test: node-deps
	$(GO) test $(TESTFLAGS) ./...

## node-deps: npm ci of examples/node (sm-crypto, gm-crypto) when its lock
##            file changed; without npm the node tests skip (CI installs it)
NODE_DEPS := examples/node/node_modules/.package-lock.json
node-deps: $(NODE_DEPS)
$(NODE_DEPS): examples/node/package-lock.json examples/node/package.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix examples/node --no-audit --no-fund; \
	else echo "npm not found: the tests that run npm sm-crypto/gm-crypto will skip (apt-get install npm)"; fi

## lint: go.mod and go.sum tidy (go mod tidy -diff shows what tidy would
##       change), gofmt (lists unformatted files) and go vet; CI runs it
lint:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: every benchmark once over (no tests)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: each Fuzz target for FUZZTIME (default 10s)
fuzz:
	@$(GO) test -list '^Fuzz' ./... > .fuzz-targets
	@awk '/^Fuzz/ { f[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' .fuzz-targets > .fuzz-targets.tmp
	@mv .fuzz-targets.tmp .fuzz-targets
	@if [ ! -s .fuzz-targets ]; then echo "no fuzz targets"; fi
	@set -e; while read -r pkg fn; do \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done < .fuzz-targets; rm -f .fuzz-targets

## clean: remove build and coverage output (never data/: it holds the master key)
clean:
	rm -rf bin/ coverage.out coverage.html .fuzz-targets .fuzz-targets.tmp

# disclosured build, test and release targets. Run `make help` for a list.

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PREFIX  ?= /usr/local
DESTDIR ?=
FUZZTIME ?= 20s

# Packages that may import no disclosured/ package (STYLE.md: leaves).
LEAVES := store mailbox parser templates calendar config devmail control metrics oauth redact mbox pgp advisory chart

.PHONY: all build run test lint fuzz bench install clean help verify-unit

all: lint test build

help:
	@echo "targets: build run test lint fuzz bench install clean"

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/disclosured ./cmd/disclosured

# A local instance on devmail, the in-process mail system.
run: build
	./bin/disclosured dev

test:
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

# go vet, gofmt, the dependency direction of STYLE.md, and a tidy go.mod.
lint:
	$(GO) vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@fail=0; \
	for p in $(LEAVES); do \
	  [ -d "$$p" ] || continue; \
	  bad=$$($(GO) list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./$$p | grep '^disclosured/' | grep -vx "disclosured/$$p"); \
	  if [ -n "$$bad" ]; then echo "$$p is a leaf but imports: $$bad"; fail=1; fi; \
	done; \
	if [ -d workflow ]; then \
	  bad=$$($(GO) list -deps ./workflow | grep -E '^disclosured/(config|cmd)(/|$$)'); \
	  if [ -n "$$bad" ]; then echo "workflow must not import: $$bad"; fail=1; fi; \
	fi; \
	bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... | grep -v '^disclosured/cmd/' | grep -E ' disclosured/cmd(/| |$$)'); \
	if [ -n "$$bad" ]; then echo "nothing may import cmd: $$bad"; fail=1; fi; \
	exit $$fail
	$(GO) mod tidy -diff

# Short runs of every Fuzz target in FUZZPKGS (one target per go test -fuzz):
# the parser's, redaction's, and the whole ingest path (workflow.FuzzIngest).
FUZZPKGS ?= parser redact workflow mailbox
fuzz:
	@for p in $(FUZZPKGS); do \
	  targets=$$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$p/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); \
	  if [ -z "$$targets" ]; then echo "no fuzz targets in $$p/"; continue; fi; \
	  for f in $$targets; do \
	    echo "fuzz $$p.$$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) ./$$p || exit 1; \
	  done; \
	done

# The benchmark of issue 7, described in BENCHMARKS.md: the Go benchmarks of
# parser, store and workflow, then the built daemon against a private
# Postfix + Dovecot (started with e2e/mailstack/start.sh, so as root). Not
# root: export a running stack's MAILSTACK_* and set BENCH_FLAGS=-stack=env
# (the run empties that stack's INBOXes). Prints a Markdown table.
BENCH_FLAGS ?=
bench:
	$(GO) run ./bench/load $(BENCH_FLAGS)

# The same harness at tiny sizes, as `make test` runs it (TestSmoke).
.PHONY: bench-smoke
bench-smoke:
	$(GO) test -count=1 -run '^TestSmoke$$' -v ./bench/load

# The binary, the systemd unit (ExecStart follows PREFIX) and the example
# config. Then: cp /etc/disclosured/config.example.yaml /etc/disclosured/config.yaml,
# edit it, put the passwords in /etc/disclosured/{imap,smtp}-password and
# systemctl daemon-reload && systemctl enable --now disclosured.
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/disclosured $(DESTDIR)$(UNITDIR)
	install -m 0755 bin/disclosured $(DESTDIR)$(PREFIX)/bin/disclosured
	install -m 0644 config.example.yaml $(DESTDIR)/etc/disclosured/config.example.yaml
	sed 's|/usr/local/bin/disclosured|$(PREFIX)/bin/disclosured|' dist/disclosured.service > $(DESTDIR)$(UNITDIR)/disclosured.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/disclosured.service

# systemd-analyze verify of the unit, in a throwaway root (CI runs it).
verify-unit:
	sh dist/verify-unit.sh

clean:
	rm -rf bin
	$(GO) clean -testcache

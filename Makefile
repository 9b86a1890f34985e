# Llamadesk build and test targets. Every go command uses the same build tags
# (through GOFLAGS) so that the cgo parts (SQLite with FTS5, Fyne, OpenGL)
# compile once and stay cached.
export GOFLAGS := -tags=sqlite_fts5
# Where the shared test data lives (models, golden outputs); see README.
export LLAMADESK_TESTDATA ?= $(abspath ../shared/testdata)

GO ?= go
XVFB := $(shell command -v xvfb-run >/dev/null 2>&1 && echo "xvfb-run -a -s '-screen 0 1280x1024x24'")

.PHONY: run build test vet fuzz bench screenshots clean

## run: build and open the window
run: build
	./llamadesk

## screenshots: a PNG of each page of the real window (under Xvfb) in SCREENSHOTS
SCREENSHOTS ?= /tmp/llamadesk-screenshots
screenshots: build
	xvfb-run -a -s '-screen 0 1280x900x24' ui/screenshots.sh ./llamadesk $(SCREENSHOTS)

## build: build the llamadesk binary
build:
	$(GO) build -o llamadesk .

## vet: static checks
vet:
	$(GO) vet ./...

## test: vet, then every test (under Xvfb when it is installed, for the window and OpenGL tests);
## the packages that run goroutines are tested under the race detector (instead of a plain run)
RACE_PKGS = $(shell $(GO) list ./app/... ./models/download/... ./engine/cpu/... ./engine/session/... ./history/... ./ui/...)
PLAIN_PKGS = $(filter-out $(RACE_PKGS),$(shell $(GO) list ./...))
test: vet
	$(XVFB) $(GO) test -timeout 25m $(PLAIN_PKGS)
	$(XVFB) $(GO) test -race -timeout 25m $(RACE_PKGS)

## fuzz: run every fuzz target for FUZZTIME each (default 60s)
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	engine/gguf:FuzzParse engine/quant:FuzzDequantize engine/tokenizer:FuzzEncode \
	engine/chat:FuzzBuild engine/chat:FuzzIsLlama2Template engine/sample:FuzzSample \
	history:FuzzImport history:FuzzSearch history:FuzzParsePersonas \
	models:FuzzParseCatalog models:FuzzParseTree models:FuzzParseMeminfo \
	models/download:FuzzParseState models/download:FuzzParseContentRange models/download:FuzzParseRetryAfter \
	models:FuzzNextLink cli:FuzzTerminalSafe \
	gpu/kernels:FuzzRepack ui:FuzzSplitBlocks
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$pkg/; \
	done

## bench: kernel benchmarks
bench:
	$(GO) test -run '^$$' -bench . ./engine/cpu/

clean:
	rm -f llamadesk

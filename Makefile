# Llamadesk build and test targets. Every go command uses the same build tags
# (through GOFLAGS) so that the cgo parts (SQLite with FTS5, Fyne, OpenGL)
# compile once and stay cached.
export GOFLAGS := -tags=sqlite_fts5
# Where the shared test data lives (models, golden outputs); see README.
export LLAMADESK_TESTDATA ?= $(abspath ../shared/testdata)

GO ?= go
XVFB := $(shell command -v xvfb-run >/dev/null 2>&1 && echo "xvfb-run -a -s '-screen 0 1280x1024x24'")

.PHONY: run build test vet vet-darwin generate windows gpu-check-prepare gpu-check fuzz bench screenshots clean

## run: build and open the window
run: build
	./llamadesk

## screenshots: a PNG of each page of the real window (under Xvfb) in SCREENSHOTS
SCREENSHOTS ?= /tmp/llamadesk-screenshots
screenshots: build
	xvfb-run -a -s '-screen 0 1600x1000x24' ui/screenshots.sh ./llamadesk $(SCREENSHOTS) $(SHOTS)

## build: build the llamadesk binary
build:
	$(GO) build -o llamadesk .

## vet: static checks (and those of the macOS build, see vet-darwin)
vet: vet-darwin
	$(GO) vet ./...

## vet-darwin: vet the macOS build from Linux. The packages that build without
## cgo are vetted for darwin/arm64; the Metal backend's Go side, with its cgo
## calls checked against lmtl.h, for darwin/amd64 with gcc standing in for
## Apple's clang (.ci/darwin-vet-cc; the Objective-C itself is not compiled).
vet-darwin:
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./engine/... ./gpu/...
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=1 CC=$(CURDIR)/.ci/darwin-vet-cc $(GO) vet ./gpu/...

## generate: translate the GPU kernels to the Metal Shading Language again
## (gpu/kernels/msl; needs glslang-tools and spirv-cross)
generate:
	$(GO) generate ./gpu/...

## windows: cross-build the two Windows executables (x86-64) with MinGW-w64
## (apt-get install gcc-mingw-w64-x86-64) into dist/windows: llamadesk.exe,
## the console program (the commands; without arguments it opens the window
## beside its console), and llamadesk-app.exe, linked for the GUI subsystem
## (no console), which opens the window. Both have the icon and export the
## hybrid-laptop GPU hints; .ci/check-windows-exe checks each. The packages
## compile once; the second build only links again. The icon's object file
## is moved whole into internal/winres, a package only Windows builds read,
## and left there, so that this can run beside the Linux tests (.ci/run).
WINDOWS_RESOURCES = internal/winres/rsrc_windows_amd64.syso
WINDOWS_CC ?= x86_64-w64-mingw32-gcc
WINDRES ?= x86_64-w64-mingw32-windres
WINDOWS_BUILD = CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(WINDOWS_CC) $(GO) build
windows:
	@mkdir -p dist/windows
	$(GO) run ./assets/winicon -in assets/icon.png -out dist/windows/llamadesk.ico
	printf '1 ICON "llamadesk.ico"\n' > dist/windows/llamadesk.rc
	$(WINDRES) -O coff -i dist/windows/llamadesk.rc -o dist/windows/llamadesk-rsrc.coff
	mv dist/windows/llamadesk-rsrc.coff $(WINDOWS_RESOURCES)
	$(WINDOWS_BUILD) -o dist/windows/llamadesk.exe .
	$(WINDOWS_BUILD) -ldflags=-H=windowsgui -o dist/windows/llamadesk-app.exe .
	.ci/check-windows-exe dist/windows/llamadesk.exe 'Windows CUI'
	.ci/check-windows-exe dist/windows/llamadesk-app.exe 'Windows GUI'

## gpu-check-prepare: here, with internet (npm, apt-get) and a llama.cpp
## build: write GPU_CHECK_BUNDLE (ignored by git), everything gpu-check needs
## on a GPU machine without Go or internet, staged in GPU_CHECK_DIR (outside
## the repository), and .gl (the EGL, GL and Vulkan loaders) when missing;
## fails when they would not travel to a lent GPU machine (64 MiB with the
## working tree). See gpu/gpucheck/prepare.sh and the README's "GPU check".
GPU_CHECK_DIR ?= $(abspath ../scratch/gpu-check)
GPU_CHECK_BUNDLE ?= .gpu-check/gpu-check.tar.xz
gpu-check-prepare:
	gpu/gpucheck/prepare.sh $(GPU_CHECK_DIR) $(GPU_CHECK_BUNDLE)

## gpu-check: on a machine with an NVIDIA GPU (no Go needed): unpack the
## bundle, check the EGL device context, run the GL tests on the GPU, and
## benchmark 7B Q4_0 and Q4_K_M against llama.cpp's Vulkan build, in one
## table (GPU_CHECK_FLAGS: e.g. -rounds 5)
gpu-check:
	gpu/gpucheck/device.sh $(GPU_CHECK_BUNDLE) $(GPU_CHECK_FLAGS)

## test: vet, then every test (under Xvfb when it is installed, for the window and OpenGL tests);
## the packages that run goroutines are tested under the race detector (instead of a plain run).
## engine/cpu runs plainly (its kernels are C, which the race detector does not see, and its golden
## grid takes 4x as long under it); its tests that drive the Go worker pool run again under -race.
RACE_PKGS = $(shell $(GO) list ./app/... ./models/download/... ./engine/session/... ./history/... ./ui/... ./server/...)
PLAIN_PKGS = $(filter-out $(RACE_PKGS),$(shell $(GO) list ./...))
CPU_RACE_TESTS = Pool|Interrupt|AfterIdle|Threads|BatchInvariance
test: vet
	$(XVFB) $(GO) test -timeout 25m $(PLAIN_PKGS)
	$(XVFB) $(GO) test -race -timeout 25m $(RACE_PKGS)
	$(GO) test -race -timeout 10m -run '$(CPU_RACE_TESTS)' ./engine/cpu/

## fuzz: run every fuzz target for FUZZTIME each (default 60s)
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	engine/gguf:FuzzParse engine/quant:FuzzDequantize engine/tokenizer:FuzzEncode \
	engine/chat:FuzzBuild engine/chat:FuzzIsLlama2Template engine/sample:FuzzSample \
	history:FuzzImport history:FuzzSearch history:FuzzParsePersonas \
	models:FuzzParseCatalog models:FuzzParseTree models:FuzzParseMeminfo \
	models/download:FuzzParseState models/download:FuzzParseContentRange models/download:FuzzParseRetryAfter \
	models:FuzzNextLink cli:FuzzTerminalSafe \
	gpu/kernels:FuzzRepack ui:FuzzParseMarkdown server:FuzzDecodeRequest app:FuzzRemoteStream
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$pkg/; \
	done

## bench: kernel benchmarks
bench:
	$(GO) test -run '^$$' -bench . ./engine/cpu/

clean:
	rm -f llamadesk $(WINDOWS_RESOURCES)
	rm -rf dist/windows

// Command gpu-check checks the OpenGL backend on a machine with a GPU and
// no internet, from a folder unpacked from the bundle `make
// gpu-check-prepare` made (see prepare.sh and device.sh): it checks that an
// EGL context is made on the hardware device, runs the GL tests (golden
// checks included) on it, writes 7B-shaped models with `llamadesk dev
// synth`, and benchmarks them with `llamadesk bench --backend gl` against
// llama.cpp's Vulkan build (llama-bench -ngl 99) on the same files,
// alternating the two programs round by round, and prints one table of
// medians and ranges. A failing test or benchmark run does not stop the
// others; every program's run has a time limit.
//
// The folder holds: llamadesk, gl.test (go test -c ./gpu/gl), testdata
// (the shared test data), vulkan/ (llama-bench with the prebuilt Vulkan
// libraries of node-llama-cpp it loads) and libs/ (the X11 client
// libraries the Go programs link). The EGL, GL and Vulkan loaders
// (libglvnd, libvulkan1) come from the machine. Vendor files of the NVIDIA
// driver are looked for where containers mount them
// (/usr/local/nvidia/share/...) and in the usual places, unless
// __EGL_VENDOR_LIBRARY_FILENAMES and VK_DRIVER_FILES say where they are.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", ".", "the folder make gpu-check-prepare filled")
	flag.IntVar(&c.rounds, "rounds", 3, "benchmark rounds, alternating the two programs")
	flag.IntVar(&c.prompt, "p", 512, "prompt tokens of the prompt processing test")
	flag.IntVar(&c.gen, "n", 128, "tokens of the generation test")
	flag.StringVar(&c.shape, "shape", "7b", "shape of the benchmark models (llamadesk dev synth --shape)")
	flag.IntVar(&c.layers, "layers", 0, "layers of the benchmark models (0: the shape's)")
	types := flag.String("types", "Q4_0,Q4_K_M", "file types of the benchmark models")
	flag.BoolVar(&c.allowSoftware, "allow-software", false, "accept a software renderer (llvmpipe: to try the script without a GPU)")
	flag.BoolVar(&c.skipTests, "skip-tests", false, "skip the GL tests")
	flag.DurationVar(&c.testTimeout, "test-timeout", 3*time.Minute, "the most the GL tests may take")
	flag.DurationVar(&c.timeout, "timeout", 2*time.Minute, "the most one other program's run may take")
	flag.StringVar(&c.log, "log", "", "the file the programs' output goes to (default: gpu-check.log in -dir)")
	flag.Parse()
	c.types = strings.Split(*types, ",")
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gpu-check:", err)
		os.Exit(1)
	}
}

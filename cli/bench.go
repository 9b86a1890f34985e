package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/app"
)

// benchJSON is the --json output of bench, field order as documented.
type benchJSON struct {
	Backend       string  `json:"backend"`
	Threads       int     `json:"threads"`
	PromptTokens  int     `json:"pp_tokens"`
	PromptPerSec  float64 `json:"pp_tokens_per_s"`
	GenTokens     int     `json:"tg_tokens"`
	GenPerSec     float64 `json:"tg_tokens_per_s"`
	ResidentBytes int64   `json:"rss_bytes"`
	Depth         int     `json:"depth"`
	KVType        string  `json:"kv_type"`
}

func runBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench")
	mf := modelFlags{env: env}
	mf.register(fs)
	pp := fs.Int("p", 512, "prompt tokens, processed as one batch (0: skip)")
	tg := fs.Int("n", 128, "tokens to generate one at a time (0: skip)")
	depth := fs.Int("depth", 0, "tokens already in the context before each test (like llama-bench -d)")
	fs.IntVar(depth, "d", 0, "short for --depth")
	reps := fs.Int("repetitions", 5, "runs of each test (after one warm-up)")
	fs.IntVar(reps, "r", 5, "short for --repetitions")
	seed := fs.Uint64("seed", 1, "seed of the random tokens")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if _, err := mf.loadOptions(); err != nil {
		return err
	}
	if *pp < 0 || *tg < 0 || *pp+*tg == 0 {
		return usageError("-p and -n must not be negative, and one must be positive")
	}
	if *reps < 1 {
		return usageError("--repetitions must be at least 1")
	}
	if *depth < 0 {
		return usageError("--depth must not be negative")
	}
	load, err := mf.loadOptions()
	if err != nil {
		return err
	}
	opts := app.BenchOptions{
		Load:         load,
		PromptTokens: *pp,
		GenTokens:    *tg,
		Depth:        *depth,
		Repetitions:  *reps,
		Seed:         *seed,
	}
	progress := func(s string) {
		if !*asJSON {
			fmt.Fprintf(env.Stderr, "bench: %s\n", s)
		}
	}
	path, err := modelPath(env, mf.model)
	if err != nil {
		return err
	}
	res, err := app.Bench(ctx, path, opts, progress)
	if err != nil {
		return err
	}
	ppRate, ppDev := app.Rate(res.PromptTokens, res.PromptTimes)
	tgRate, tgDev := app.Rate(res.GenTokens, res.GenTimes)
	if *asJSON {
		return writeJSON(env.Stdout, benchJSON{
			Backend: res.Backend, Threads: res.Threads, KVType: res.KVType, Depth: res.Depth,
			PromptTokens: res.PromptTokens, PromptPerSec: ppRate,
			GenTokens: res.GenTokens, GenPerSec: tgRate,
			ResidentBytes: res.RSSBytes,
		})
	}
	w := env.Stdout
	fmt.Fprintf(w, "model:   %s (%.2f GiB)\n", mf.model, float64(res.FileBytes)/(1<<30))
	fmt.Fprintf(w, "backend: %s, %d threads, %s kernels, %s KV cache\n", res.Backend, res.Threads, res.Kernels, res.KVType)
	fmt.Fprintf(w, "\n| %-6s | %15s |\n|%s|%s|\n", "test", "t/s", strings.Repeat("-", 8), strings.Repeat("-", 17))
	if res.PromptTokens > 0 {
		fmt.Fprintf(w, "| %-6s | %7.2f ± %5.2f |\n", fmt.Sprintf("pp%d", res.PromptTokens)+atDepth(res.Depth), ppRate, ppDev)
	}
	if res.GenTokens > 0 {
		fmt.Fprintf(w, "| %-6s | %7.2f ± %5.2f |\n", fmt.Sprintf("tg%d", res.GenTokens)+atDepth(res.Depth), tgRate, tgDev)
	}
	if res.Depth > 0 {
		fmt.Fprintf(w, "\n%d repetitions; each test starts with %d tokens in the context, as llama-bench -d does.\n", *reps, res.Depth)
	} else {
		fmt.Fprintf(w, "\n%d repetitions; tg starts from an empty context, as llama-bench's does.\n", *reps)
	}
	fmt.Fprintf(w, "resident memory: %.2f GiB (%s)\n", float64(res.RSSBytes)/(1<<30), res.RSSSource)
	return nil
}

// atDepth is llama-bench's suffix for a test at a depth (" @ d2048").
func atDepth(d int) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf(" @ d%d", d)
}

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/llamadesk/llamadesk/app"
)

// runDev runs the developer tools: `llamadesk dev <tool> [flags]`.
func runDev(ctx context.Context, env *Env, args []string) error {
	tools := map[string]func(context.Context, *Env, []string) error{
		"synth":    runDevSynth,
		"loadtest": runDevLoadtest,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.Stdout, "Developer tools:\n  llamadesk dev synth      write a random-weight Llama 2 model for benchmarks\n  llamadesk dev loadtest   measure an OpenAI-compatible server under concurrent clients")
		return nil
	}
	tool, ok := tools[args[0]]
	if !ok {
		return usageError("unknown dev tool %q (want synth or loadtest)", args[0])
	}
	return tool(ctx, env, args[1:])
}

func runDevSynth(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "dev synth")
	shape := fs.String("shape", "", "model shape: "+strings.Join(app.SynthShapes(), ", ")+" (required)")
	layers := fs.Int("layers", 0, "layer count (0: the shape's)")
	typ := fs.String("type", "", "llama.cpp file type: "+strings.Join(app.SynthTypes(), ", ")+" (required)")
	out := fs.String("out", "", "output GGUF `file` (required)")
	vocab := fs.String("vocab", "", "GGUF `file` to take the tokenizer from (default: $LLAMADESK_TESTDATA/vocab/llama2-spm.gguf if present, else a synthetic vocabulary)")
	seed := fs.Uint64("seed", 1, "seed of the random weights")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *shape == "":
		return usageError("--shape is required")
	case *typ == "":
		return usageError("--type is required")
	case *out == "":
		return usageError("--out is required")
	case *layers < 0:
		return usageError("--layers must not be negative")
	}
	vocabPath := *vocab
	if vocabPath == "" {
		if dir := env.Getenv("LLAMADESK_TESTDATA"); dir != "" {
			p := filepath.Join(dir, "vocab", "llama2-spm.gguf")
			if _, err := os.Stat(p); err == nil {
				vocabPath = p
			}
		}
	}
	opts := app.SynthOptions{Shape: *shape, Layers: *layers, Type: *typ, VocabPath: vocabPath, Seed: *seed}
	if err := opts.Check(); err != nil {
		return usageError("%v", err)
	}
	info, err := app.WriteSynthModel(*out, opts)
	if err != nil {
		return err
	}
	types := make([]string, 0, len(info.TypeCount))
	for t, n := range info.TypeCount {
		types = append(types, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(types)
	src := "synthetic vocabulary"
	if vocabPath != "" {
		src = "vocabulary of " + vocabPath
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s %s, %d tensors (%s), %.2f GiB, %s\n",
		*out, strings.ToUpper(*shape), strings.ToUpper(*typ), info.Tensors, strings.Join(types, " "), float64(info.Bytes)/(1<<30), src)
	return nil
}

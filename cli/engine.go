package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// modelFlags are the flags every command that runs a model shares.
type modelFlags struct {
	model     string
	threads   int
	backend   string
	gpuLayers int
	// env, when set, lets --model name a catalog model or a file of the
	// models folder (see modelPath).
	env    *Env
	kvType string
	// context is the context size the command will use (0: the model's),
	// for the GPU placement; commands with a --ctx flag set it.
	context int
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "", "the model: a GGUF `file`, a catalog name such as llama-2-7b-chat:Q4_K_M, or a file of the models folder (required)")
	fs.IntVar(&m.threads, "threads", 0, "CPU threads (0: one per physical core)")
	fs.StringVar(&m.backend, "backend", "auto", "compute backend: auto, cpu or gl")
	fs.IntVar(&m.gpuLayers, "gpu-layers", -1, "layers to run on the GPU (-1: as many as fit)")
	fs.StringVar(&m.kvType, "kv-type", "f16", "KV cache `type`: f16, q8_0 or f32")
}

// maxThreads bounds --threads: far above any CPU's cores, far below what
// makes creating the threads fail.
const maxThreads = 1024

// loadOptions checks the flags, without loading anything, and returns the
// load options they ask for.
func (m *modelFlags) loadOptions() (app.LoadOptions, error) {
	if m.model == "" {
		return app.LoadOptions{}, usageError("--model is required")
	}
	switch m.backend {
	case "auto", "cpu", "gl":
	default:
		return app.LoadOptions{}, usageError("--backend %q: want auto, cpu or gl", m.backend)
	}
	if m.threads < 0 || m.threads > maxThreads {
		return app.LoadOptions{}, usageError("--threads %d: want 1 to %d (0: one per physical core)", m.threads, maxThreads)
	}
	if m.gpuLayers < -1 {
		return app.LoadOptions{}, usageError("--gpu-layers %d: want -1 (as many as fit), 0 or a number of layers", m.gpuLayers)
	}
	kv, err := engine.ParseKVType(m.kvType)
	if err != nil {
		return app.LoadOptions{}, usageError("--kv-type: %v", err)
	}
	return app.LoadOptions{Threads: m.threads, Backend: m.backend, GPULayers: m.gpuLayers, Context: m.context, KVType: kv}, nil
}

func (m *modelFlags) load() (*app.LoadedModel, error) {
	opts, err := m.loadOptions()
	if err != nil {
		return nil, err
	}
	path, err := modelPath(m.env, m.model)
	if err != nil {
		return nil, err
	}
	return app.LoadModel(path, opts)
}

// maxTextFile bounds a prompt or text file (far beyond any context).
const maxTextFile = 64 << 20

// readTextFile reads a prompt or text file named by a flag.
func readTextFile(flagName, path string) (string, error) {
	if path == "" {
		return "", usageError("--%s is required", flagName)
	}
	raw, err := inputfile.ReadFile(path, maxTextFile)
	if err != nil {
		return "", fmt.Errorf("read --%s: %w", flagName, err)
	}
	return string(raw), nil
}

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// logitPair is a [token id, logit] pair in JSON.
type logitPair [2]any

// topPairs returns the n highest logits of row, highest first (lowest id first on ties).
func topPairs(row []float32, n int) []logitPair {
	n = min(n, len(row))
	better := func(a, b int) bool { return row[a] > row[b] || (row[a] == row[b] && a < b) }
	// Keep the best n ids seen so far, in order (n is small).
	best := make([]int, 0, n+1)
	for i := range row {
		if len(best) == n && !better(i, best[n-1]) {
			continue
		}
		j := sort.Search(len(best), func(k int) bool { return better(i, best[k]) })
		best = append(best, 0)
		copy(best[j+1:], best[j:])
		best[j] = i
		if len(best) > n {
			best = best[:n]
		}
	}
	out := make([]logitPair, len(best))
	for i, id := range best {
		out[i] = logitPair{id, row[id]}
	}
	return out
}

func runEval(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "eval")
	mf := modelFlags{env: env}
	mf.register(fs)
	promptFile := fs.String("prompt-file", "", "prompt `file`; the texts <s> and </s> are read as BOS and EOS")
	top := fs.Int("top", 10, "logits to print per position")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *top < 1 {
		return usageError("--top must be at least 1")
	}
	if _, err := mf.loadOptions(); err != nil {
		return err
	}
	prompt, err := readTextFile("prompt-file", *promptFile)
	if err != nil {
		return err
	}
	modelFile, err := modelPath(env, mf.model)
	if err != nil {
		return err
	}
	tok, closeTok, err := app.OpenTokenizer(modelFile)
	if err != nil {
		return err
	}
	tokens := tok.Encode(prompt, tok.AddBOS(), true)
	closeTok()
	if len(tokens) == 0 {
		return fmt.Errorf("the prompt has no tokens")
	}
	mf.context = len(tokens)
	lm, err := mf.load()
	if err != nil {
		return err
	}
	defer lm.Close()
	st, err := lm.NewState(len(tokens), true)
	if err != nil {
		return err
	}
	// Only the top pairs of each position are kept: memory stays bounded by
	// one batch of logits however long the prompt.
	out := struct {
		Tokens []int32       `json:"tokens"`
		Top    [][]logitPair `json:"top"`
	}{Tokens: tokens, Top: make([][]logitPair, 0, len(tokens))}
	err = st.EvalEach(ctx, tokens, func(_ int, logits []float32) error {
		out.Top = append(out.Top, topPairs(logits, *top))
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(env.Stdout, out)
}

func runGenerate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "generate")
	mf := modelFlags{env: env}
	mf.register(fs)
	promptFile := fs.String("prompt-file", "", "prompt `file`; the texts <s> and </s> are read as BOS and EOS")
	n := fs.Int("n", 128, "the most tokens to generate, `N` ≥ 1; -1: until the end of text or a full context (as in chat)")
	params := sample.DefaultParams()
	params.Temperature = 0
	fs.Var(float32Flag{&params.Temperature}, "temp", "temperature (0: greedy)")
	fs.Uint64Var(&params.Seed, "seed", 0, "random seed for sampling")
	ignoreEOS := fs.Bool("ignore-eos", false, "keep generating after the end-of-sequence token")
	asJSON := fs.Bool("json", false, "print {tokens, top2, text} as JSON instead of streaming text")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := checkMaxTokens(*n); err != nil {
		return err
	}
	if _, err := mf.loadOptions(); err != nil {
		return err
	}
	prompt, err := readTextFile("prompt-file", *promptFile)
	if err != nil {
		return err
	}
	sampler, err := sample.New(params)
	if err != nil {
		return usageError("%v", err)
	}
	lm, err := mf.load()
	if err != nil {
		return err
	}
	defer lm.Close()
	tok := lm.Tokenizer
	tokens := tok.Encode(prompt, tok.AddBOS(), true)
	if len(tokens) == 0 {
		return fmt.Errorf("the prompt has no tokens")
	}
	st, err := lm.NewState(0, false)
	if err != nil {
		return err
	}
	if *n == -1 {
		*n = st.Capacity() - len(tokens)
	}
	if len(tokens)+*n > st.Capacity() {
		return fmt.Errorf("prompt (%d tokens) + %d new tokens exceed the context of %d", len(tokens), *n, st.Capacity())
	}
	logits, err := st.Eval(ctx, tokens, false)
	if err != nil {
		return err
	}
	out := struct {
		Tokens []int32       `json:"tokens"`
		Top2   [][]logitPair `json:"top2"`
		Text   string        `json:"text"`
	}{Tokens: []int32{}, Top2: [][]logitPair{}}
	stdout := bufio.NewWriter(env.Stdout)
	defer stdout.Flush()
	dec := tok.NewDecoder()
	history := append([]int32(nil), tokens...)
	for i := 0; i < *n; i++ {
		next := sampler.Sample(logits, history)
		out.Tokens = append(out.Tokens, next)
		out.Top2 = append(out.Top2, topPairs(logits, 2))
		history = append(history, next)
		if tok.IsEOG(next) && !*ignoreEOS {
			break
		}
		piece := dec.Add(next)
		out.Text += piece
		if !*asJSON {
			stdout.WriteString(piece)
			stdout.Flush()
		}
		if i+1 == *n {
			break
		}
		if logits, err = st.Eval(ctx, []int32{next}, false); err != nil {
			return err
		}
	}
	rest := dec.Flush()
	out.Text += rest
	if *asJSON {
		return writeJSON(stdout, out)
	}
	stdout.WriteString(rest + "\n")
	return nil
}

// checkMaxTokens validates -n, which means the same in chat and generate:
// the most tokens to generate (N ≥ 1), or -1 for no limit but the end of
// text and the context.
func checkMaxTokens(n int) error {
	if n < 1 && n != -1 {
		return usageError("-n %d: want the most tokens to generate (1 or more), or -1 for no limit", n)
	}
	return nil
}

// float32Flag is a flag.Value for a float32.
type float32Flag struct{ p *float32 }

// String implements flag.Value.
func (f float32Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return fmt.Sprint(*f.p)
}

// Set implements flag.Value.
func (f float32Flag) Set(s string) error {
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	*f.p = float32(v)
	return nil
}

func runTokenize(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokenize")
	model := fs.String("model", "", "the model: a GGUF `file`, a catalog name or a file of the models folder (required)")
	textFile := fs.String("text-file", "", "text `file` to tokenize (required)")
	noBOS := fs.Bool("no-bos", false, "do not prepend BOS even when the model asks for it")
	parseSpecial := fs.Bool("parse-special", false, "read the texts <s> and </s> as the BOS and EOS tokens")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *model == "" {
		return usageError("--model is required")
	}
	text, err := readTextFile("text-file", *textFile)
	if err != nil {
		return err
	}
	path, err := modelPath(env, *model)
	if err != nil {
		return err
	}
	tok, closeFile, err := app.OpenTokenizer(path)
	if err != nil {
		return err
	}
	defer closeFile()
	tokens := tok.Encode(text, tok.AddBOS() && !*noBOS, *parseSpecial)
	return writeJSON(env.Stdout, map[string][]int32{"tokens": tokens})
}

func runInfo(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "info")
	model := fs.String("model", "", "the model: a GGUF `file`, a catalog name or a file of the models folder (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	ctxLen := fs.Int("ctx", 0, "context size for the memory estimate (0: the model's)")
	kvType := fs.String("kv-type", "f16", "KV cache `type` for the memory estimate: f16, q8_0 or f32")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *model == "" {
		return usageError("--model is required")
	}
	kv, err := engine.ParseKVType(*kvType)
	if err != nil {
		return usageError("--kv-type: %v", err)
	}
	if *ctxLen < 0 {
		return usageError("--ctx must not be negative")
	}
	path, err := modelPath(env, *model)
	if err != nil {
		return err
	}
	info, err := app.DescribeModelAt(path, engine.StateOptions{Context: *ctxLen, KVType: kv})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, info)
	}
	w := env.Stdout
	fmt.Fprintf(w, "file:           %s (%s)\n", terminalSafe(info.Path), engine.FormatBytes(info.FileBytes))
	fmt.Fprintf(w, "name:           %s\n", terminalSafe(info.Name))
	fmt.Fprintf(w, "architecture:   %s\n", terminalSafe(info.Architecture))
	fmt.Fprintf(w, "parameters:     %s (%d)\n", humanCount(info.Parameters), info.Parameters)
	fmt.Fprintf(w, "quantization:   %s\n", terminalSafe(info.Quantization))
	for _, q := range info.TensorTypes {
		fmt.Fprintf(w, "  %-6s %4d tensors  %12d parameters  %s\n", q.Type, q.Tensors, q.Parameters, engine.FormatBytes(q.Bytes))
	}
	fmt.Fprintf(w, "context length: %d\n", info.ContextLength)
	fmt.Fprintf(w, "shape:          %d layers, embedding %d, %d heads (%d KV heads), feed-forward %d, vocabulary %d\n",
		info.Layers, info.Embedding, info.Heads, info.KVHeads, info.FeedForward, info.Vocabulary)
	m := info.Memory
	fmt.Fprintf(w, "memory:         %s at %d tokens with an %s KV cache (weights %s, KV cache %s, buffers %s, logits %s)\n",
		engine.FormatBytes(info.MemoryTotal), info.MemoryContext, info.MemoryKVType, engine.FormatBytes(m.Weights), engine.FormatBytes(m.KV),
		engine.FormatBytes(m.Buffers), engine.FormatBytes(m.Logits))
	fmt.Fprintf(w, "chat format:    %s\n", terminalSafe(info.ChatFormat))
	if info.ChatTemplate != "" {
		fmt.Fprintf(w, "chat template:  %s\n", oneLine(info.ChatTemplate, 100))
	}
	return nil
}

// humanCount formats a parameter count as 6.74B, 512.0M...
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// oneLine shortens s to one line of at most n runes, safe to print on a
// terminal (see terminalSafe).
func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\r' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return terminalSafe(string(r[:n])) + "…"
	}
	return terminalSafe(string(r))
}

package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/synth"
)

// BenchOptions describe a speed measurement in the manner of llama.cpp's
// llama-bench: prompt processing of PromptTokens tokens in one batch, and
// generation of GenTokens tokens one at a time, each after Depth tokens
// already in the context (llama-bench -d; 0: an empty context) and
// repeated Repetitions times after one warm-up pass.
type BenchOptions struct {
	Load         LoadOptions
	PromptTokens int
	GenTokens    int
	// Depth is how many tokens the context holds before each test. They
	// are evaluated once, untimed; each test then rewinds the context to
	// them (the cache of those positions is what a fresh fill would give).
	Depth       int
	Repetitions int
	// Seed chooses the random tokens.
	Seed uint64
}

// BenchResult holds the measured times.
type BenchResult struct {
	Backend      string // engine backend name ("cpu")
	Note         string // how the model was placed (LoadedModel.BackendNote)
	Threads      int    // CPU worker threads
	Kernels      string // CPU kernel set ("avx512-vnni", "generic", ...)
	KVType       string // KV cache type ("f16", ...)
	Depth        int    // tokens in the context before each test
	PromptTokens int
	PromptTimes  []time.Duration // one per repetition
	GenTokens    int
	GenTimes     []time.Duration
	// RSSBytes is the resident memory after the runs, read from RSSSource
	// ("VmRSS" of /proc/self/status, or "maxrss" of getrusage).
	RSSBytes  int64
	RSSSource string
	FileBytes int64
}

// Rate returns the mean and standard deviation of tokens per second over
// the repetitions (0, 0 when nothing was measured).
func Rate(tokens int, times []time.Duration) (mean, stddev float64) {
	if tokens == 0 || len(times) == 0 {
		return 0, 0
	}
	rates := make([]float64, len(times))
	for i, d := range times {
		rates[i] = float64(tokens) / d.Seconds()
		mean += rates[i]
	}
	mean /= float64(len(rates))
	for _, r := range rates {
		stddev += (r - mean) * (r - mean)
	}
	if len(rates) > 1 {
		stddev = math.Sqrt(stddev / float64(len(rates)-1))
	} else {
		stddev = 0
	}
	return mean, stddev
}

// threadsReporter is what a CPU backend reports about itself.
type threadsReporter interface {
	Threads() int
	Kernels() string
}

// Bench loads the model at path and measures it. progress, if not nil,
// receives a line before each phase.
func Bench(ctx context.Context, path string, opts BenchOptions, progress func(string)) (BenchResult, error) {
	if opts.PromptTokens < 0 || opts.GenTokens < 0 || opts.Depth < 0 || opts.Repetitions < 1 {
		return BenchResult{}, errors.New("bench: token counts and depth must not be negative and repetitions must be at least 1")
	}
	capacity := opts.Depth + max(opts.PromptTokens, opts.GenTokens, 1)
	if opts.Load.Context <= 0 {
		opts.Load.Context = capacity
	}
	if progress == nil {
		progress = func(string) {}
	}
	lm, err := LoadModel(path, opts.Load)
	if err != nil {
		return BenchResult{}, err
	}
	defer lm.Close()
	res := BenchResult{PromptTokens: opts.PromptTokens, GenTokens: opts.GenTokens, Depth: opts.Depth,
		KVType: lm.KVType().String(), FileBytes: lm.File.Size()}
	// The context first: a GPU without room for it takes fewer layers.
	st, err := lm.NewState(capacity, false)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	res.Note = lm.BackendNote
	for _, b := range lm.Model.Backends() {
		res.Backend = b.Name()
		if tr, ok := b.(threadsReporter); ok {
			res.Threads, res.Kernels = tr.Threads(), tr.Kernels()
		}
	}
	vocab := lm.Model.Config.Vocab
	rng := rand.New(rand.NewPCG(opts.Seed, 0xbe7c))
	randomToken := func() int32 { return int32(rng.IntN(vocab)) }
	bos := lm.Tokenizer.BOS()

	// Warm-up: one token touches every weight (the file's pages come in)
	// and sizes every buffer; with a depth, the context is filled.
	progress("warm-up")
	if _, err := st.Eval(ctx, []int32{bos}, false); err != nil {
		return res, fmt.Errorf("bench: warm-up: %w", err)
	}
	if opts.Depth > 0 {
		progress(fmt.Sprintf("filling the context with %d tokens", opts.Depth))
		fill := make([]int32, opts.Depth-1)
		for i := range fill {
			fill[i] = randomToken()
		}
		if len(fill) > 0 {
			if _, err := st.Eval(ctx, fill, false); err != nil {
				return res, fmt.Errorf("bench: depth: %w", err)
			}
		}
	}
	depth := opts.Depth
	for rep := 0; rep < opts.Repetitions; rep++ {
		if opts.PromptTokens > 0 {
			progress(fmt.Sprintf("pp%d, run %d of %d", opts.PromptTokens, rep+1, opts.Repetitions))
			tokens := make([]int32, opts.PromptTokens)
			for i := range tokens {
				tokens[i] = randomToken()
			}
			if depth == 0 {
				tokens[0] = bos
			}
			st.Truncate(depth)
			start := time.Now()
			if _, err := st.Eval(ctx, tokens, false); err != nil {
				return res, fmt.Errorf("bench: prompt: %w", err)
			}
			res.PromptTimes = append(res.PromptTimes, time.Since(start))
		}
		if opts.GenTokens > 0 {
			progress(fmt.Sprintf("tg%d, run %d of %d", opts.GenTokens, rep+1, opts.Repetitions))
			st.Truncate(depth)
			tok := bos
			if depth > 0 {
				tok = randomToken()
			}
			start := time.Now()
			for i := 0; i < opts.GenTokens; i++ {
				if _, err := st.Eval(ctx, []int32{tok}, false); err != nil {
					return res, fmt.Errorf("bench: generation: %w", err)
				}
				tok = randomToken()
			}
			res.GenTimes = append(res.GenTimes, time.Since(start))
		}
	}
	res.RSSBytes, res.RSSSource = residentBytes()
	return res, nil
}

// residentBytes returns the process's resident memory and where it was
// read: VmRSS of /proc/self/status on Linux, else getrusage's peak.
func residentBytes() (int64, string) {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				fields := strings.Fields(v)
				if len(fields) == 2 && fields[1] == "kB" {
					if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
						return n * 1024, "VmRSS"
					}
				}
			}
		}
	}
	if n := peakRSS(); n > 0 {
		return n, "maxrss"
	}
	return 0, "unknown"
}

// SynthOptions describe a random-weight benchmark model (see engine/synth).
type SynthOptions struct {
	Shape  string // "7b", "13b" or "70b"
	Layers int    // 0: the shape's
	Type   string // llama.cpp file type name, e.g. "Q4_K_M"
	// VocabPath names a GGUF file whose tokenizer the model takes (e.g. the
	// test data's vocab/llama2-spm.gguf); "" means a synthetic vocabulary.
	VocabPath string
	Seed      uint64
}

// SynthInfo describes a written benchmark model.
type SynthInfo struct {
	Bytes     int64 // file size
	Tensors   int
	TypeCount map[string]int // tensors per ggml type
}

// SynthShapes lists the shapes WriteSynthModel accepts.
func SynthShapes() []string { return synth.ShapeNames() }

// SynthTypes lists the file types WriteSynthModel accepts.
func SynthTypes() []string { return synth.FileTypeNames() }

// Check reports options WriteSynthModel would refuse.
func (o SynthOptions) Check() error {
	if _, err := synth.ShapeByName(o.Shape); err != nil {
		return err
	}
	if _, err := synth.ParseFileType(o.Type); err != nil {
		return err
	}
	if o.Layers < 0 {
		return fmt.Errorf("layers must not be negative")
	}
	return nil
}

// WriteSynthModel writes a random-weight model to path, streaming it
// through a temporary file in the same folder that is renamed into place
// only when complete.
func WriteSynthModel(path string, opts SynthOptions) (SynthInfo, error) {
	var info SynthInfo
	shape, err := synth.ShapeByName(opts.Shape)
	if err != nil {
		return info, err
	}
	ft, err := synth.ParseFileType(opts.Type)
	if err != nil {
		return info, err
	}
	if opts.Layers < 0 {
		return info, fmt.Errorf("layers must not be negative")
	}
	so := synth.Options{Shape: shape, Layers: opts.Layers, Type: ft, Seed: opts.Seed}
	if opts.VocabPath != "" {
		f, err := gguf.Open(opts.VocabPath)
		if err != nil {
			return info, fmt.Errorf("vocabulary: %w", err)
		}
		defer f.Close()
		v, err := synth.VocabFromGGUF(f)
		if err != nil {
			return info, fmt.Errorf("vocabulary %s: %w", opts.VocabPath, err)
		}
		so.Vocab = &v
	}
	tensors, err := so.Tensors()
	if err != nil {
		return info, err
	}
	info.Tensors = len(tensors)
	info.TypeCount = map[string]int{}
	for _, t := range tensors {
		info.TypeCount[t.Type.String()]++
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.partial")
	if err != nil {
		return info, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if info.Bytes, err = synth.Write(tmp, so); err != nil {
		return info, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return info, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return info, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return info, err
	}
	ok = true
	return info, nil
}

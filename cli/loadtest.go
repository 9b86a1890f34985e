package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llamadesk/llamadesk/app"
)

// loadResult is what `dev loadtest` measures.
type loadResult struct {
	URL      string  `json:"url"`
	Model    string  `json:"model"`
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	WallS    float64 `json:"wall_s"`
	// Tokens counts the completion tokens of all replies (usage), and
	// TokensPerS is their sum over the wall time: the server's throughput.
	Tokens     int     `json:"completion_tokens"`
	TokensPerS float64 `json:"tokens_per_s"`
	// Per request: time to first token and to the end, median and worst.
	TTFTMedianMS    float64 `json:"ttft_median_ms"`
	TTFTMaxMS       float64 `json:"ttft_max_ms"`
	LatencyMedianMS float64 `json:"latency_median_ms"`
	LatencyMaxMS    float64 `json:"latency_max_ms"`
	// PerRequestTokensPerS is the median speed one client sees after its
	// first token.
	PerRequestTokensPerS float64 `json:"per_request_tokens_per_s"`
}

// runDevLoadtest measures an OpenAI-compatible server (ours or a peer such
// as llama-server) under N concurrent clients, each sending streamed chat
// completions one after another.
func runDevLoadtest(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "dev loadtest")
	url := fs.String("url", "http://127.0.0.1:11435/v1", "the server's OpenAI base `URL`")
	model := fs.String("model", "", "model name to ask for (required)")
	clients := fs.Int("clients", 1, "concurrent clients")
	requests := fs.Int("requests", 2, "requests per client, one after another")
	tokens := fs.Int("n", 32, "max_tokens of each reply")
	keyFile := fs.String("api-key-file", "", "send the key in this `file`")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *model == "" || *clients < 1 || *requests < 1 || *tokens < 1 {
		return usageError("--model is required; --clients, --requests and -n must be at least 1")
	}
	var key string
	if *keyFile != "" {
		k, _, err := app.ReadKeyFile(*keyFile)
		if err != nil {
			return err
		}
		key = k
	}
	type sample struct {
		ttft, total time.Duration
		tokens      int
		err         error
	}
	var mu sync.Mutex
	var samples []sample
	var wg sync.WaitGroup
	start := time.Now()
	for c := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range *requests {
				// Each request differs from the start, so that no cache helps.
				prompt := fmt.Sprintf("Client %d, request %d. Write a short story about a lighthouse keeper and the sea, in plain words.", c, r)
				s := sample{}
				s.ttft, s.total, s.tokens, s.err = streamOne(ctx, *url, key, *model, prompt, *tokens)
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	res := loadResult{URL: *url, Model: *model, Clients: *clients, Requests: len(samples), WallS: wall.Seconds()}
	var ttfts, totals, speeds []float64
	for _, s := range samples {
		if s.err != nil {
			res.Failed++
			fmt.Fprintln(env.Stderr, "request failed:", s.err)
			continue
		}
		res.Tokens += s.tokens
		ttfts = append(ttfts, ms(s.ttft))
		totals = append(totals, ms(s.total))
		if gen := s.total - s.ttft; gen > 0 && s.tokens > 1 {
			speeds = append(speeds, float64(s.tokens-1)/gen.Seconds())
		}
	}
	res.TokensPerS = float64(res.Tokens) / wall.Seconds()
	res.TTFTMedianMS, res.TTFTMaxMS = median(ttfts), slices.Max(append(ttfts, 0))
	res.LatencyMedianMS, res.LatencyMaxMS = median(totals), slices.Max(append(totals, 0))
	res.PerRequestTokensPerS = median(speeds)
	return writeJSON(env.Stdout, res)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadClient opens a connection per request: some servers (llama-server)
// close idle connections, which a reused POST would fail on.
var loadClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// streamOne sends one streamed chat completion and returns the time to its
// first content, to its end, and its completion tokens (from usage, else
// the content chunks).
func streamOne(ctx context.Context, base, key, model, prompt string, maxTokens int) (ttft, total time.Duration, tokens int, err error) {
	body, _ := json.Marshal(map[string]any{
		"model": model, "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"temperature": 0, "max_tokens": maxTokens,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
	})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(base, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := loadClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, 0, fmt.Errorf("status %s", resp.Status)
	}
	chunks, usage := 0, 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal([]byte(data), &c) != nil {
			continue
		}
		if c.Usage != nil {
			usage = c.Usage.CompletionTokens
		}
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			if chunks == 0 {
				ttft = time.Since(start)
			}
			chunks++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	tokens = usage
	if tokens == 0 {
		tokens = chunks
	}
	return ttft, time.Since(start), tokens, nil
}

package server

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// openAICheckEnv names the folder holding node_modules/openai (the official
// OpenAI client library, `npm i openai`); by default ../scratch/openai-check
// beside the repository.
const openAICheckEnv = "LLAMADESK_OPENAI_CHECK"

// openAIClientDir returns the folder with node_modules/openai and the node
// binary, or skips the test saying what is missing. CI does not install
// Node packages, so this test skips there too (see the README).
func openAIClientDir(t *testing.T) (dir, node string) {
	t.Helper()
	dir = os.Getenv(openAICheckEnv)
	if dir == "" {
		dir = filepath.Join("..", "..", "scratch", "openai-check")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("the official OpenAI client check needs Node.js (node is not on PATH)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		t.Skipf("the official OpenAI client check needs `npm i openai` in %s (or %s set to such a folder): %v", dir, openAICheckEnv, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs, node
}

func TestOfficialOpenAIClient(t *testing.T) {
	dir, node := openAIClientDir(t)
	cfg := testConfig(t)
	cfg.APIKey = "test-key"
	s := start(t, cfg)
	want := reference(t, poetConv, greedy(12))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/openai_check.cjs", s.URL+"/v1", "test-key", chatRef)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	type reply struct {
		Content string `json:"content"`
		Finish  string `json:"finish"`
		Usage   usage  `json:"usage"`
	}
	out := decode[struct {
		Version    string   `json:"version"`
		Models     []string `json:"models"`
		Chat       reply    `json:"chat"`
		Stream     reply    `json:"stream"`
		Completion struct {
			Text  string `json:"text"`
			Usage usage  `json:"usage"`
		} `json:"completion"`
		NotFound struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Name   string `json:"name"`
		} `json:"notFound"`
		BadRequest struct {
			Status int    `json:"status"`
			Param  string `json:"param"`
			Name   string `json:"name"`
		} `json:"badRequest"`
		BadKey struct {
			Status int    `json:"status"`
			Name   string `json:"name"`
		} `json:"badKey"`
		Aborted struct {
			Chunks int `json:"chunks"`
		} `json:"aborted"`
	}](t, stdout.Bytes())
	t.Logf("openai %s", out.Version)
	if len(out.Models) != 2 || out.Models[0] != chatRef {
		t.Errorf("models %v", out.Models)
	}
	wantUsage := usage{34, want.Stats.GeneratedTokens, 34 + want.Stats.GeneratedTokens}
	for name, r := range map[string]reply{"chat": out.Chat, "stream": out.Stream} {
		if r.Content != want.Text || r.Finish != finishReason(want.Reason) || r.Usage != wantUsage {
			t.Errorf("%s: %+v, want %q (%s) with usage %+v", name, r, want.Text, finishReason(want.Reason), wantUsage)
		}
	}
	if out.Completion.Text == "" || out.Completion.Usage.CompletionTokens != 5 {
		t.Errorf("completion %+v", out.Completion)
	}
	if out.NotFound.Status != 404 || out.NotFound.Code != "model_not_found" || out.NotFound.Name != "NotFoundError" {
		t.Errorf("unknown model: %+v", out.NotFound)
	}
	if out.BadRequest.Status != 400 || out.BadRequest.Param != "temperature" || out.BadRequest.Name != "BadRequestError" {
		t.Errorf("bad temperature: %+v", out.BadRequest)
	}
	if out.BadKey.Status != 401 || out.BadKey.Name != "AuthenticationError" {
		t.Errorf("wrong key: %+v", out.BadKey)
	}
	if out.Aborted.Chunks != 2 {
		t.Errorf("aborted stream: %+v", out.Aborted)
	}
	// The aborted generation stopped: nothing is in flight.
	if !waitFor(2*time.Second, func() bool { return s.Status().InFlight == 0 }) {
		t.Errorf("after the client aborted, %d requests are still in flight", s.Status().InFlight)
	}
}

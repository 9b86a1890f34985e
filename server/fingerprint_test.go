package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Every chunk of a stream names the backend that ran it in its
// system_fingerprint, as the whole (unstreamed) response does.
func TestStreamedChunksCarryTheFingerprint(t *testing.T) {
	s := start(t, testConfig(t))
	for _, c := range []struct {
		name, path string
		body       map[string]any
	}{
		{"chat", "/v1/chat/completions", poetRequest(chatRef, map[string]any{"max_tokens": 3})},
		{"completion", "/v1/completions", map[string]any{"model": chatRef, "prompt": "The wind", "max_tokens": 3, "temperature": 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			type withFingerprint struct {
				SystemFingerprint string `json:"system_fingerprint"`
			}
			resp, body := do(t, "POST", s.URL+c.path, c.body)
			whole := decode[withFingerprint](t, body).SystemFingerprint
			if resp.StatusCode != 200 || !strings.HasSuffix(whole, "-cpu") {
				t.Fatalf("whole response: %d, fingerprint %q", resp.StatusCode, whole)
			}
			for _, usage := range []bool{false, true} {
				c.body["stream"] = true
				c.body["stream_options"] = map[string]any{"include_usage": usage}
				sresp, err := http.Post(s.URL+c.path, "application/json", strings.NewReader(mustJSON(t, c.body)))
				if err != nil {
					t.Fatal(err)
				}
				events := sseEvents(t, sresp.Body)
				sresp.Body.Close()
				if len(events) < 3 || events[len(events)-1] != "[DONE]" {
					t.Fatalf("events %q", events)
				}
				for _, e := range events[:len(events)-1] {
					var chunk withFingerprint
					if err := json.Unmarshal([]byte(e), &chunk); err != nil || chunk.SystemFingerprint != whole {
						t.Errorf("chunk %s: fingerprint %q (%v), want %q", e, chunk.SystemFingerprint, err, whole)
					}
				}
			}
		})
	}
}

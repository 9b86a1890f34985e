package server

import (
	"encoding/json"
	"testing"

	"github.com/llamadesk/llamadesk/engine/sample"
)

// A request's sampling settings become the sampler's parameters the same
// way on both APIs: llama.cpp's defaults with what the request sets, top_p
// 0 keeping only the most likely token, and a seed of its own for a request
// without one.
func TestRequestSamplingParams(t *testing.T) {
	def := sample.DefaultParams()
	with := func(f func(p *sample.Params)) sample.Params {
		p := def
		f(&p)
		return p
	}
	for _, c := range []struct {
		name, fields string
		want         sample.Params // Seed 0: want a drawn seed
	}{
		{"defaults", `{}`, def},
		{"every setting", `{"temperature":0.5,"top_k":7,"top_p":0.5,"min_p":0.1,"repeat_penalty":1.1,"presence_penalty":0.25,"frequency_penalty":-0.5,"seed":42}`,
			sample.Params{Temperature: 0.5, TopK: 7, TopP: 0.5, MinP: 0.1, RepeatPenalty: 1.1, RepeatLastN: 64,
				PresencePenalty: 0.25, FrequencyPenalty: -0.5, Seed: 42}},
		{"top_p 0 keeps the most likely token", `{"top_p":0,"top_k":50,"seed":1}`, with(func(p *sample.Params) { p.TopP, p.TopK, p.Seed = 0, 1, 1 })},
		{"seed 0 is a seed", `{"seed":0,"temperature":0}`, with(func(p *sample.Params) { p.Temperature = 0 })},
		{"top_k 0 keeps all", `{"top_k":0,"seed":3}`, with(func(p *sample.Params) { p.TopK, p.Seed = 0, 3 })},
	} {
		t.Run(c.name, func(t *testing.T) {
			var openAI samplingFields
			var ollama ollamaOptions
			if err := json.Unmarshal([]byte(c.fields), &openAI); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(c.fields), &ollama); err != nil {
				t.Fatal(err)
			}
			for api, check := range map[string]func() (sample.Params, *requestError){
				"OpenAI": func() (sample.Params, *requestError) { o, err := openAI.check(); return o.Sampling, err },
				"Ollama": func() (sample.Params, *requestError) { o, err := ollama.check(); return o.Sampling, err },
			} {
				got, rerr := check()
				if rerr != nil {
					t.Fatalf("%s: %v", api, rerr)
				}
				drawn := openAI.Seed == nil
				if drawn {
					again, _ := check()
					if got.Seed == again.Seed {
						t.Errorf("%s: two requests without a seed both got seed %d", api, got.Seed)
					}
					got.Seed = 0
				}
				if got != c.want {
					t.Errorf("%s: %+v, want %+v", api, got, c.want)
				}
			}
		})
	}
}

package server

import (
	"math/rand/v2"
	"os"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/history"
)

// samplerParams returns the sampler parameters of the settings a request
// set: the app's (llama.cpp's defaults with the settings applied, see
// app.SamplingParams) with the APIs' two rules: top_p 0 keeps only the most
// likely token, and without a seed each request draws a random one.
func samplerParams(set history.Sampling) sample.Params {
	p := app.SamplingParams(sample.DefaultParams(), set)
	if set.TopP != nil && *set.TopP == 0 {
		p.TopK = 1
	}
	if set.Seed == nil {
		p.Seed = rand.Uint64()
	}
	return p
}

// statModTime returns a file's modification time.
func statModTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

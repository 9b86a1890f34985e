package server

import (
	"math/rand/v2"
	"os"
	"time"

	"github.com/llamadesk/llamadesk/engine/sample"
)

// sampling holds the sampling parameters a request set (nil: not set).
type sampling struct {
	temperature, topP, minP, repeatPenalty, presence, frequency *float64
	topK, repeatLastN                                           *int
	seed                                                        *int64
}

// params returns the sampler parameters: llama.cpp's defaults (as the app
// uses) with the request's settings applied. Without a seed each request
// draws a random one. top_p 0 keeps only the most likely token.
func (s sampling) params() sample.Params {
	p := sample.DefaultParams()
	set := func(dst *float32, v *float64) {
		if v != nil {
			*dst = float32(*v)
		}
	}
	set(&p.Temperature, s.temperature)
	set(&p.TopP, s.topP)
	set(&p.MinP, s.minP)
	set(&p.RepeatPenalty, s.repeatPenalty)
	set(&p.PresencePenalty, s.presence)
	set(&p.FrequencyPenalty, s.frequency)
	if s.topK != nil {
		p.TopK = *s.topK
	}
	if s.repeatLastN != nil {
		p.RepeatLastN = *s.repeatLastN
	}
	if s.topP != nil && *s.topP == 0 {
		p.TopK = 1
	}
	if s.seed != nil {
		p.Seed = uint64(*s.seed)
	} else {
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

// Package sample picks the next token from a model's logits: repetition,
// presence and frequency penalties, top-k, top-p, min-p, temperature and a
// seeded draw, in the order of llama.cpp's common sampler chain.
package sample

import (
	"fmt"
	"math"
)

// Params configures a Sampler. The zero value is plain greedy decoding: no
// penalties, no filters, temperature 0.
type Params struct {
	// Temperature divides the logits before the draw. 0 is greedy: the
	// highest logit wins, the lowest token id on ties.
	Temperature float32
	// TopK keeps the K most likely tokens; 0 keeps all.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// mass is at least TopP. 0 and 1 keep all.
	TopP float32
	// MinP drops tokens whose probability is below MinP times the
	// probability of the most likely token. 0 keeps all.
	MinP float32
	// RepeatPenalty, as llama.cpp applies it, divides a positive logit and
	// multiplies a negative one, once for each distinct token of the last
	// RepeatLastN. 0 and 1 disable it.
	RepeatPenalty float32
	// RepeatLastN is how many of the most recent tokens the penalties look
	// at; 0 disables all penalties, -1 looks at every recent token given.
	RepeatLastN int
	// PresencePenalty is subtracted once from the logit of every token that
	// occurs in the last RepeatLastN tokens.
	PresencePenalty float32
	// FrequencyPenalty is subtracted from a token's logit once for each of
	// its occurrences in the last RepeatLastN tokens.
	FrequencyPenalty float32
	// Seed seeds the sampler's random number generator: the same seed, the
	// same logits and the same recent tokens give the same choices.
	Seed uint64
}

// DefaultParams returns llama.cpp's defaults: temperature 0.8, top-k 40,
// top-p 0.95, min-p 0.05, and the penalties off (repeat penalty 1 over the
// last 64 tokens), so that temperature 0 is plain greedy decoding. The seed
// is 0; callers that want variety set their own.
func DefaultParams() Params {
	return Params{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1,
		RepeatLastN:   64,
	}
}

// Greedy reports whether the parameters select the most likely token
// without a random draw.
func (p Params) Greedy() bool { return p.Temperature == 0 }

// Validate reports the first parameter that is out of range.
func (p Params) Validate() error {
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch {
	case !finite(p.Temperature) || p.Temperature < 0:
		return fmt.Errorf("sampling: temperature %v: want a finite number ≥ 0", p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("sampling: top-k %d: want ≥ 0 (0 keeps all tokens)", p.TopK)
	case !finite(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return fmt.Errorf("sampling: top-p %v: want a number from 0 to 1", p.TopP)
	case !finite(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return fmt.Errorf("sampling: min-p %v: want a number from 0 to 1", p.MinP)
	case !finite(p.RepeatPenalty) || p.RepeatPenalty < 0:
		return fmt.Errorf("sampling: repeat penalty %v: want a finite number ≥ 0 (0 and 1 disable it)", p.RepeatPenalty)
	case p.RepeatLastN < -1:
		return fmt.Errorf("sampling: repeat window %d: want ≥ 0, or -1 for all recent tokens", p.RepeatLastN)
	case !finite(p.PresencePenalty):
		return fmt.Errorf("sampling: presence penalty %v: want a finite number", p.PresencePenalty)
	case !finite(p.FrequencyPenalty):
		return fmt.Errorf("sampling: frequency penalty %v: want a finite number", p.FrequencyPenalty)
	}
	return nil
}

// penalizes reports whether any penalty can change a logit.
func (p Params) penalizes() bool {
	if p.RepeatLastN == 0 {
		return false
	}
	repeat := p.RepeatPenalty != 0 && p.RepeatPenalty != 1
	return repeat || p.PresencePenalty != 0 || p.FrequencyPenalty != 0
}

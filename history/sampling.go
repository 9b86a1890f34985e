package history

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sampling holds sampling settings where each one may be unset (nil), so
// that "not set" (use the default or the persona's value) differs from 0.
type Sampling struct {
	Temperature      *float64 `json:"temperature,omitempty"`
	TopK             *int     `json:"top_k,omitempty"`
	TopP             *float64 `json:"top_p,omitempty"`
	MinP             *float64 `json:"min_p,omitempty"`
	RepeatPenalty    *float64 `json:"repeat_penalty,omitempty"`
	RepeatLastN      *int     `json:"repeat_last_n,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	MaxTokens        *int     `json:"max_tokens,omitempty"`
	Seed             *int64   `json:"seed,omitempty"`
	Stop             []string `json:"stop,omitempty"`
}

// Ptr returns a pointer to v, for filling Sampling's optional fields.
func Ptr[T any](v T) *T { return &v }

// IsZero reports whether no setting is set.
func (s Sampling) IsZero() bool {
	return s.Temperature == nil && s.TopK == nil && s.TopP == nil && s.MinP == nil &&
		s.RepeatPenalty == nil && s.RepeatLastN == nil && s.PresencePenalty == nil &&
		s.FrequencyPenalty == nil && s.MaxTokens == nil && s.Seed == nil && len(s.Stop) == 0
}

// Overlay returns s with every setting that o sets replaced by o's value.
func (s Sampling) Overlay(o Sampling) Sampling {
	out := s
	setIf(&out.Temperature, o.Temperature)
	setIf(&out.TopK, o.TopK)
	setIf(&out.TopP, o.TopP)
	setIf(&out.MinP, o.MinP)
	setIf(&out.RepeatPenalty, o.RepeatPenalty)
	setIf(&out.RepeatLastN, o.RepeatLastN)
	setIf(&out.PresencePenalty, o.PresencePenalty)
	setIf(&out.FrequencyPenalty, o.FrequencyPenalty)
	setIf(&out.MaxTokens, o.MaxTokens)
	setIf(&out.Seed, o.Seed)
	if len(o.Stop) > 0 {
		out.Stop = append([]string(nil), o.Stop...)
	}
	return out
}

func setIf[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

// Validate reports the first setting outside its range.
func (s Sampling) Validate() error {
	checks := []struct {
		name     string
		v        *float64
		min, max float64
	}{
		{"temperature", s.Temperature, 0, 10},
		{"top_p", s.TopP, 0, 1},
		{"min_p", s.MinP, 0, 1},
		{"repeat_penalty", s.RepeatPenalty, 0, 10},
		{"presence_penalty", s.PresencePenalty, -2, 2},
		{"frequency_penalty", s.FrequencyPenalty, -2, 2},
	}
	for _, c := range checks {
		if c.v == nil {
			continue
		}
		if math.IsNaN(*c.v) || math.IsInf(*c.v, 0) || *c.v < c.min || *c.v > c.max {
			return fmt.Errorf("%w: %s %v is outside [%v, %v]", ErrInvalid, c.name, *c.v, c.min, c.max)
		}
	}
	if s.RepeatPenalty != nil && *s.RepeatPenalty == 0 {
		return fmt.Errorf("%w: repeat_penalty must be above 0 (1 turns it off)", ErrInvalid)
	}
	if s.TopK != nil && *s.TopK < 0 {
		return fmt.Errorf("%w: top_k %d is negative (0 turns it off)", ErrInvalid, *s.TopK)
	}
	if s.RepeatLastN != nil && *s.RepeatLastN < -1 {
		return fmt.Errorf("%w: repeat_last_n %d is below -1 (-1 means the whole context)", ErrInvalid, *s.RepeatLastN)
	}
	if s.MaxTokens != nil && *s.MaxTokens < 1 {
		return fmt.Errorf("%w: max_tokens %d must be at least 1", ErrInvalid, *s.MaxTokens)
	}
	if s.Seed != nil && *s.Seed < 0 {
		return fmt.Errorf("%w: seed %d is negative", ErrInvalid, *s.Seed)
	}
	if len(s.Stop) > 16 {
		return fmt.Errorf("%w: %d stop strings (at most 16)", ErrInvalid, len(s.Stop))
	}
	for _, st := range s.Stop {
		if st == "" {
			return fmt.Errorf("%w: empty stop string", ErrInvalid)
		}
	}
	return nil
}

// String describes the settings that are set, e.g. "temperature 0.7, top_k 40".
func (s Sampling) String() string {
	var parts []string
	addF := func(name string, v *float64) {
		if v != nil {
			parts = append(parts, name+" "+strconv.FormatFloat(*v, 'g', -1, 64))
		}
	}
	addI := func(name string, v *int) {
		if v != nil {
			parts = append(parts, name+" "+strconv.Itoa(*v))
		}
	}
	addF("temperature", s.Temperature)
	addI("top_k", s.TopK)
	addF("top_p", s.TopP)
	addF("min_p", s.MinP)
	addF("repeat_penalty", s.RepeatPenalty)
	addI("repeat_last_n", s.RepeatLastN)
	addF("presence_penalty", s.PresencePenalty)
	addF("frequency_penalty", s.FrequencyPenalty)
	addI("max_tokens", s.MaxTokens)
	if s.Seed != nil {
		parts = append(parts, "seed "+strconv.FormatInt(*s.Seed, 10))
	}
	if len(s.Stop) > 0 {
		quoted := make([]string, len(s.Stop))
		for i, st := range s.Stop {
			quoted[i] = strconv.Quote(st)
		}
		parts = append(parts, "stop ["+strings.Join(quoted, ", ")+"]")
	}
	return strings.Join(parts, ", ")
}

// encodeSampling is the stored (JSON) form of s.
func encodeSampling(s Sampling) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode sampling: %w", err)
	}
	return string(b), nil
}

// decodeSampling reads the stored form of a Sampling.
func decodeSampling(text string) (Sampling, error) {
	var s Sampling
	if text == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return s, fmt.Errorf("decode sampling %q: %w", text, err)
	}
	return s, nil
}

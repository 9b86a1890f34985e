package ui

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/history"
)

// samplingForm edits the sampling settings a person usually changes. An
// empty field means "not set": the default (shown greyed) applies.
type samplingForm struct {
	temperature, topK, topP, minP, repeatPenalty, repeatLastN *widget.Entry
	presencePenalty, frequencyPenalty, maxTokens, seed        *widget.Entry
	// stop holds the stop strings, one per line.
	stop *widget.Entry
}

func newSamplingForm(s history.Sampling) *samplingForm {
	def := sample.DefaultParams()
	f := &samplingForm{
		temperature:      floatEntry(s.Temperature, def.Temperature),
		topK:             intEntry(s.TopK, strconv.Itoa(def.TopK)),
		topP:             floatEntry(s.TopP, def.TopP),
		minP:             floatEntry(s.MinP, def.MinP),
		repeatPenalty:    floatEntry(s.RepeatPenalty, def.RepeatPenalty),
		repeatLastN:      intEntry(s.RepeatLastN, strconv.Itoa(def.RepeatLastN)),
		presencePenalty:  floatEntry(s.PresencePenalty, def.PresencePenalty),
		frequencyPenalty: floatEntry(s.FrequencyPenalty, def.FrequencyPenalty),
		maxTokens:        intEntry(s.MaxTokens, "until the model stops"),
		seed:             int64Entry(s.Seed, "automatic"),
		stop:             widget.NewMultiLineEntry(),
	}
	f.stop.SetPlaceHolder("one per line, such as ###")
	f.stop.SetMinRowsVisible(2)
	f.stop.SetText(strings.Join(s.Stop, "\n"))
	return f
}

// entries lists the form's fields (to copy one form into another).
func (f *samplingForm) entries() []*widget.Entry {
	return []*widget.Entry{f.temperature, f.topK, f.topP, f.minP, f.repeatPenalty, f.repeatLastN,
		f.presencePenalty, f.frequencyPenalty, f.maxTokens, f.seed, f.stop}
}

// load shows s in the form.
func (f *samplingForm) load(s history.Sampling) {
	fresh := newSamplingForm(s)
	for i, e := range f.entries() {
		e.SetText(fresh.entries()[i].Text)
	}
}

func int64Entry(v *int64, placeholder string) *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder(placeholder)
	if v != nil {
		e.SetText(strconv.FormatInt(*v, 10))
	}
	return e
}

// floatEntry shows v, or the engine's default (a float32) as a placeholder.
func floatEntry(v *float64, def float32) *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder(strconv.FormatFloat(float64(def), 'g', -1, 32))
	if v != nil {
		e.SetText(strconv.FormatFloat(*v, 'g', -1, 64))
	}
	return e
}

func intEntry(v *int, placeholder string) *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder(placeholder)
	if v != nil {
		e.SetText(strconv.Itoa(*v))
	}
	return e
}

// items lays the fields out for a form, with hints.
func (f *samplingForm) items() []*widget.FormItem {
	item := func(label string, e *widget.Entry, hint string) *widget.FormItem {
		it := widget.NewFormItem(label, e)
		it.HintText = hint
		return it
	}
	return []*widget.FormItem{
		item("Temperature", f.temperature, "0 always picks the likeliest word; higher is more varied (0–10)"),
		item("Top-k", f.topK, "sample among the k likeliest tokens (0: all)"),
		item("Top-p", f.topP, "sample among the tokens making up this probability (0–1)"),
		item("Min-p", f.minP, "drop tokens less likely than this share of the best (0–1)"),
		item("Repeat penalty", f.repeatPenalty, "above 1 discourages repeating recent tokens (1: off)"),
		item("Repeat window", f.repeatLastN, "how many recent tokens the penalties look at"),
		item("Presence penalty", f.presencePenalty, "discourages any token already used (0: off; −2–2)"),
		item("Frequency penalty", f.frequencyPenalty, "discourages tokens by how often they were used (0: off; −2–2)"),
		item("Max tokens", f.maxTokens, "the longest reply, in tokens (empty: no limit)"),
		item("Seed", f.seed, "a fixed number repeats the same reply at the same settings"),
		item("Stop strings", f.stop, "the reply ends before any of these"),
	}
}

// sampling returns base with the form's settings, validated.
func (f *samplingForm) sampling(base history.Sampling) (history.Sampling, error) {
	s := base
	var err error
	parseF := func(e *widget.Entry, name string) *float64 {
		t := strings.TrimSpace(e.Text)
		if t == "" || err != nil {
			return nil
		}
		v, perr := strconv.ParseFloat(t, 64)
		if perr != nil {
			err = fmt.Errorf("%s: %q is not a number", name, t)
			return nil
		}
		return &v
	}
	parseI := func(e *widget.Entry, name string) *int {
		t := strings.TrimSpace(e.Text)
		if t == "" || err != nil {
			return nil
		}
		v, perr := strconv.Atoi(t)
		if perr != nil {
			err = fmt.Errorf("%s: %q is not a whole number", name, t)
			return nil
		}
		return &v
	}
	s.Temperature = parseF(f.temperature, "temperature")
	s.TopK = parseI(f.topK, "top-k")
	s.TopP = parseF(f.topP, "top-p")
	s.MinP = parseF(f.minP, "min-p")
	s.RepeatPenalty = parseF(f.repeatPenalty, "repeat penalty")
	s.RepeatLastN = parseI(f.repeatLastN, "repeat window")
	s.PresencePenalty = parseF(f.presencePenalty, "presence penalty")
	s.FrequencyPenalty = parseF(f.frequencyPenalty, "frequency penalty")
	s.MaxTokens = parseI(f.maxTokens, "max tokens")
	s.Seed = nil
	if t := strings.TrimSpace(f.seed.Text); t != "" && err == nil {
		v, perr := strconv.ParseInt(t, 10, 64)
		if perr != nil {
			err = fmt.Errorf("seed: %q is not a whole number", t)
		}
		s.Seed = &v
	}
	s.Stop = nil
	for _, line := range strings.Split(f.stop.Text, "\n") {
		if line != "" {
			s.Stop = append(s.Stop, line)
		}
	}
	if err != nil {
		return base, err
	}
	if err := s.Validate(); err != nil {
		return base, err
	}
	return s, nil
}

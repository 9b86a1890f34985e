package app

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/history"
)

// HistoryFile is the name of the history database in the data folder.
const HistoryFile = "llamadesk.db"

// HistoryPath returns where the history database lives.
func (a *App) HistoryPath() string { return filepath.Join(a.Home, HistoryFile) }

// History returns the history database (conversations, personas,
// settings), opening it on first use. When opening fails the error is
// returned and the next call tries again; a damaged database is a
// *history.CorruptError, after which StartFreshHistory may replace it if
// the person agrees.
func (a *App) History() (*history.Store, error) {
	a.historyMu.Lock()
	defer a.historyMu.Unlock()
	if a.history != nil {
		return a.history, nil
	}
	s, err := history.Open(a.HistoryPath())
	if err != nil {
		return nil, err
	}
	a.history = s
	return s, nil
}

// StartFreshHistory moves the damaged history database aside (with its
// -wal file) and starts an empty one, for when the person agrees after
// History reported a *history.CorruptError. A database that is not damaged
// is refused (history.ErrHealthy). It returns where the old file went.
func (a *App) StartFreshHistory() (string, error) { return a.startFreshHistory(false) }

// ForceFreshHistory is StartFreshHistory for a database that may be
// healthy: it is moved aside all the same.
func (a *App) ForceFreshHistory() (string, error) { return a.startFreshHistory(true) }

func (a *App) startFreshHistory(force bool) (string, error) {
	a.historyMu.Lock()
	defer a.historyMu.Unlock()
	if a.history != nil {
		if err := a.history.Close(); err != nil {
			return "", fmt.Errorf("close history: %w", err)
		}
		a.history = nil
	}
	s, moved, err := history.StartFresh(a.HistoryPath(), force)
	if err != nil {
		return moved, err
	}
	a.history = s
	return moved, nil
}

// Close closes the services the App opened: the chat service (stopping
// its replies and closing its responders), then the history database.
func (a *App) Close() error {
	// Replies in progress end and are saved before the database closes.
	errs := []error{a.Chat().Close()}
	a.historyMu.Lock()
	defer a.historyMu.Unlock()
	if a.history != nil {
		errs = append(errs, a.history.Close())
		a.history = nil
	}
	return errors.Join(errs...)
}

// SamplingParams returns base with every setting that s sets applied
// (history.Sampling's MaxTokens and Stop are not sampler parameters: the
// caller passes them to generation).
func SamplingParams(base sample.Params, s history.Sampling) sample.Params {
	p := base
	if s.Temperature != nil {
		p.Temperature = float32(*s.Temperature)
	}
	if s.TopK != nil {
		p.TopK = *s.TopK
	}
	if s.TopP != nil {
		p.TopP = float32(*s.TopP)
	}
	if s.MinP != nil {
		p.MinP = float32(*s.MinP)
	}
	if s.RepeatPenalty != nil {
		p.RepeatPenalty = float32(*s.RepeatPenalty)
	}
	if s.RepeatLastN != nil {
		p.RepeatLastN = *s.RepeatLastN
	}
	if s.PresencePenalty != nil {
		p.PresencePenalty = float32(*s.PresencePenalty)
	}
	if s.FrequencyPenalty != nil {
		p.FrequencyPenalty = float32(*s.FrequencyPenalty)
	}
	if s.Seed != nil {
		p.Seed = uint64(*s.Seed)
	}
	return p
}

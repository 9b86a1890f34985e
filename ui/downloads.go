package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models/download"
)

// dlEntry is one download started from the window.
type dlEntry struct {
	ref  string // catalog reference, such as "llama-2-7b-chat:Q4_K_M"
	name string
	// cancel ends the download's context (it then pauses, resumable later).
	cancel context.CancelFunc
	// progress is the latest report (UI goroutine).
	progress download.Progress
	started  bool // a report came
	finished bool
	err      error
	path     string // the verified file, once done
}

// active reports whether the download still runs (or waits, or is paused).
func (e *dlEntry) active() bool { return !e.finished }

// downloads runs catalog downloads and brings their progress to the UI
// goroutine, coalesced: at most one update is queued at a time.
type downloads struct {
	w *Window
	// entries are the downloads of this session, oldest first (UI goroutine).
	entries []*dlEntry
	// onChange redraws what shows downloads (UI goroutine).
	onChange func()

	mu     sync.Mutex
	latest map[*dlEntry]download.Progress
	queued atomic.Bool
}

func newDownloads(w *Window) *downloads {
	return &downloads{w: w, latest: map[*dlEntry]download.Progress{}, onChange: func() {}}
}

// find returns the running download of ref, or nil.
func (d *downloads) find(ref string) *dlEntry {
	for _, e := range d.entries {
		if e.ref == ref && e.active() {
			return e
		}
	}
	return nil
}

// start downloads a catalog file (resuming an unfinished download of it).
func (d *downloads) start(ref, name string) {
	if d.find(ref) != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.w.ctx)
	e := &dlEntry{ref: ref, name: name, cancel: cancel}
	// A finished entry for the same file makes room for the new one.
	kept := d.entries[:0]
	for _, old := range d.entries {
		if old.ref != ref {
			kept = append(kept, old)
		}
	}
	d.entries = append(kept, e)
	d.onChange()
	svc := d.w.modelService()
	d.w.bg.Add(1)
	go func() {
		defer d.w.bg.Done()
		var res *app.PullResult
		err := d.w.protect(func() error {
			var err error
			res, err = svc.Pull(ctx, ref, func(p download.Progress) { d.report(e, p) })
			return err
		})
		cancel()
		d.w.do(func() { d.finish(e, res, err) })
	}()
}

// report takes a progress report (download goroutine).
func (d *downloads) report(e *dlEntry, p download.Progress) {
	d.mu.Lock()
	d.latest[e] = p
	d.mu.Unlock()
	if d.queued.Swap(true) {
		return
	}
	d.w.do(d.apply)
}

// apply moves the latest reports to the entries and redraws (UI goroutine).
func (d *downloads) apply() {
	d.queued.Store(false)
	d.mu.Lock()
	for e, p := range d.latest {
		e.progress = p
		e.started = true
	}
	clear(d.latest)
	d.mu.Unlock()
	d.onChange()
}

// finish records how a download ended (UI goroutine).
func (d *downloads) finish(e *dlEntry, res *app.PullResult, err error) {
	d.apply()
	e.finished = true
	e.err = err
	if err == nil && res != nil {
		e.path = res.Path
		e.progress.State = download.StateDone
		e.progress.Done = e.progress.Total
	}
	d.onChange()
	if err == nil {
		d.w.chat.refreshModels(true)
		d.w.modelsPage.reload()
	}
}

// job returns the download manager's job behind an entry, or nil.
func (d *downloads) job(e *dlEntry) *download.Job {
	for _, j := range d.w.modelService().Downloads.Jobs() {
		if j.Request().Dest == e.progress.Dest {
			return j
		}
	}
	return nil
}

// pause stops a download, keeping what it has, until resume.
func (d *downloads) pause(e *dlEntry) {
	if j := d.job(e); j != nil {
		j.Pause()
	}
}

// resume continues a paused download.
func (d *downloads) resume(e *dlEntry) {
	if j := d.job(e); j != nil {
		j.Resume()
		return
	}
	if e.finished {
		d.start(e.ref, e.name)
	}
}

// cancel stops a download and removes its partial file.
func (d *downloads) cancel(e *dlEntry) {
	if j := d.job(e); j != nil {
		j.Cancel()
		return
	}
	e.cancel()
}

// dismiss removes a finished download from the list.
func (d *downloads) dismiss(e *dlEntry) {
	kept := d.entries[:0]
	for _, o := range d.entries {
		if o != e {
			kept = append(kept, o)
		}
	}
	d.entries = kept
	d.onChange()
}

// activeCount counts the downloads still running.
func (d *downloads) activeCount() int {
	n := 0
	for _, e := range d.entries {
		if e.active() {
			n++
		}
	}
	return n
}

// describe is a download's line: state, bytes, speed and time left.
func (e *dlEntry) describe() string {
	p := e.progress
	if e.finished {
		switch {
		case e.err == nil:
			return "Downloaded and verified"
		case errors.Is(e.err, download.ErrCanceled):
			return "Canceled"
		case errors.Is(e.err, download.ErrPaused):
			return "Paused: resume it from the catalog"
		}
		return errorWords(e.err)
	}
	if !e.started {
		return "Asking the hub for the file's size and checksum…"
	}
	switch p.State {
	case download.StateQueued:
		return "Waiting for another download to finish"
	case download.StateChecking:
		return "Checking…"
	case download.StateVerifying:
		return fmt.Sprintf("Verifying the checksum… %s of %s", download.FormatBytes(p.Done), download.FormatBytes(p.Total))
	case download.StatePaused:
		return fmt.Sprintf("Paused at %s of %s", download.FormatBytes(p.Done), totalText(p.Total))
	}
	s := fmt.Sprintf("%s of %s", download.FormatBytes(p.Done), totalText(p.Total))
	if p.Speed > 0 {
		s += fmt.Sprintf(" · %s/s", download.FormatBytes(int64(p.Speed)))
	}
	if p.ETA >= 0 {
		s += " · " + formatETA(p.ETA) + " left"
	}
	if p.Retries > 0 {
		s += fmt.Sprintf(" · %d retries", p.Retries)
	}
	return s
}

func totalText(total int64) string {
	if total < 0 {
		return "?"
	}
	return download.FormatBytes(total)
}

// formatETA writes a duration as "45 s", "3 min" or "1 h 20 min".
func formatETA(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

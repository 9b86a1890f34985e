package download

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errPauseRequested and errCancelRequested are the causes that stop a
// running attempt on Pause and Cancel.
var (
	errPauseRequested  = errors.New("pause requested")
	errCancelRequested = errors.New("cancel requested")
)

// Job is one queued or running download.
type Job struct {
	m   *Manager
	id  int
	req Request
	ctx context.Context

	mu       sync.Mutex
	state    State
	paused   bool
	canceled bool
	stop     context.CancelCauseFunc // stops the running attempt
	err      error
	retries  int
	lastErr  string

	wake   chan struct{}
	doneCh chan struct{}
	queued chan struct{} // the slot request made by Start, until run takes it

	bytes atomic.Int64
	total atomic.Int64

	emitMu    sync.Mutex
	speed     float64
	lastBytes int64
	lastTime  time.Time
}

// ID returns the job's number, unique within its Manager.
func (j *Job) ID() int { return j.id }

// Request returns the job's request.
func (j *Job) Request() Request { return j.req }

// Done returns a channel closed when the job has finished.
func (j *Job) Done() <-chan struct{} { return j.doneCh }

// Wait blocks until the job finishes or ctx ends, and returns the job's
// error: nil when the verified file is in place.
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.doneCh:
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops the job, keeping its progress, until Resume. A queued job
// stays out of the queue while paused.
func (j *Job) Pause() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.final() {
		return
	}
	j.paused = true
	if j.stop != nil {
		j.stop(errPauseRequested)
	}
	j.signal()
}

// Resume lets a paused job continue where it stopped.
func (j *Job) Resume() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.final() {
		return
	}
	j.paused = false
	j.signal()
}

// Cancel stops the job and removes its partial file and resume state.
func (j *Job) Cancel() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.final() {
		return
	}
	j.canceled = true
	if j.stop != nil {
		j.stop(errCancelRequested)
	}
	j.signal()
}

// final reports whether the job has finished; j.mu must be held.
func (j *Job) final() bool {
	select {
	case <-j.doneCh:
		return true
	default:
		return false
	}
}

// signal wakes the job's goroutine; j.mu must be held.
func (j *Job) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Progress returns a snapshot of the job.
func (j *Job) Progress() Progress {
	j.emitMu.Lock()
	speed := j.speed
	j.emitMu.Unlock()
	return j.snapshot(speed)
}

func (j *Job) snapshot(speed float64) Progress {
	j.mu.Lock()
	p := Progress{
		ID: j.id, Name: j.req.Name, Dest: j.req.Dest, State: j.state,
		Retries: j.retries, LastRetry: j.lastErr, Err: j.err,
	}
	j.mu.Unlock()
	p.Done, p.Total = j.bytes.Load(), j.total.Load()
	p.Speed = speed
	p.ETA = -1
	if p.State == StateDownloading && speed > 0 && p.Total >= 0 {
		p.ETA = time.Duration(float64(p.Total-p.Done) / speed * float64(time.Second)).Round(time.Second)
	}
	return p
}

// emit sends a progress report to the callbacks, updating the speed estimate.
func (j *Job) emit() {
	j.emitMu.Lock()
	defer j.emitMu.Unlock()
	now := time.Now()
	b := j.bytes.Load()
	if dt := now.Sub(j.lastTime).Seconds(); !j.lastTime.IsZero() && dt >= 0.05 {
		inst := float64(b-j.lastBytes) / dt
		if inst < 0 {
			inst = 0
		}
		if j.speed == 0 {
			j.speed = inst
		} else {
			j.speed = 0.3*inst + 0.7*j.speed
		}
		j.lastBytes, j.lastTime = b, now
	} else if j.lastTime.IsZero() {
		j.lastBytes, j.lastTime = b, now
	}
	p := j.snapshot(j.speed)
	if f := j.m.cfg.OnProgress; f != nil {
		f(p)
	}
	if f := j.req.OnProgress; f != nil {
		f(p)
	}
}

// setState changes the state and reports it.
func (j *Job) setState(s State) {
	j.mu.Lock()
	changed := j.state != s
	j.state = s
	j.mu.Unlock()
	if changed {
		if s == StateDownloading {
			j.emitMu.Lock()
			j.lastBytes, j.lastTime = j.bytes.Load(), time.Now()
			j.emitMu.Unlock()
		}
		j.emit()
	}
}

// noteRetry records a failed request that will be retried.
func (j *Job) noteRetry(err error) {
	j.mu.Lock()
	j.retries++
	j.lastErr = err.Error()
	j.mu.Unlock()
}

// noteProblem records a problem that did not stop the job (a checkpoint
// that could not be written).
func (j *Job) noteProblem(err error) {
	j.mu.Lock()
	j.lastErr = err.Error()
	j.mu.Unlock()
}

// ticker reports progress every ProgressInterval until stop is called.
func (j *Job) ticker() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(j.m.cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				j.emit()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// finish ends the job in state s with err.
func (j *Job) finish(s State, err error) {
	j.mu.Lock()
	j.state = s
	j.err = err
	j.mu.Unlock()
	j.emit()
	j.m.release(j)
	close(j.doneCh)
}

// run is the job's goroutine: wait while paused, take a slot, fetch, and
// decide what the outcome means.
func (j *Job) run() {
	defer func() {
		if r := recover(); r != nil {
			j.finish(StateFailed, fmt.Errorf("download %s: internal error: %v", j.req.Name, r))
		}
	}()
	defer func() {
		if j.queued != nil {
			j.m.abandon(j.queued)
		}
	}()
	for {
		j.mu.Lock()
		if (j.paused || j.canceled) && j.queued != nil {
			j.m.abandon(j.queued)
			j.queued = nil
		}
		for j.paused && !j.canceled {
			j.state = StatePaused
			j.mu.Unlock()
			j.emit()
			select {
			case <-j.wake:
			case <-j.ctx.Done():
				j.finish(StatePaused, fmt.Errorf("%s: %w (%w)", j.req.Name, ErrPaused, context.Cause(j.ctx)))
				return
			}
			j.mu.Lock()
		}
		if j.canceled {
			j.mu.Unlock()
			j.finish(StateCanceled, j.discard())
			return
		}
		j.state = StateQueued
		j.mu.Unlock()

		grant := j.queued
		j.queued = nil
		if grant == nil {
			grant = j.m.acquire()
		}
		select {
		case <-grant:
		case <-j.wake:
			j.m.abandon(grant)
			continue // paused or canceled while queued: look again
		case <-j.ctx.Done():
			j.m.abandon(grant)
			j.finish(StatePaused, fmt.Errorf("%s: %w (%w)", j.req.Name, ErrPaused, context.Cause(j.ctx)))
			return
		}
		actx, stop := context.WithCancelCause(j.ctx)
		j.mu.Lock()
		if j.paused || j.canceled {
			j.mu.Unlock()
			stop(nil)
			j.m.releaseSlot()
			continue
		}
		j.stop = stop
		j.mu.Unlock()

		err := j.m.fetch(actx, j)
		cause := context.Cause(actx)
		stop(nil)
		j.m.releaseSlot()
		j.mu.Lock()
		j.stop = nil
		j.mu.Unlock()

		switch {
		case err == nil:
			j.finish(StateDone, nil)
			return
		case errors.Is(cause, errCancelRequested):
			j.finish(StateCanceled, j.discard())
			return
		case errors.Is(cause, errPauseRequested):
			continue
		case j.ctx.Err() != nil:
			j.finish(StatePaused, fmt.Errorf("%s: %w (%w)", j.req.Name, ErrPaused, context.Cause(j.ctx)))
			return
		default:
			j.finish(StateFailed, err)
			return
		}
	}
}

// discard removes the job's partial file and state; it returns ErrCanceled,
// or the error that kept them from being removed.
func (j *Job) discard() error {
	if err := RemovePartial(j.req.Dest); err != nil {
		return fmt.Errorf("%w, but %w", ErrCanceled, err)
	}
	return ErrCanceled
}

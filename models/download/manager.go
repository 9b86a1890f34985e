package download

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// State is where a job stands.
type State int

// The states of a job. Done, Failed, Canceled (and Paused once its context
// has ended) are final.
const (
	StateQueued      State = iota // waiting for a free slot
	StateChecking                 // asking the server, or checking a partial file
	StateDownloading              // fetching bytes
	StateVerifying                // computing the SHA-256
	StatePaused                   // stopped with its progress kept
	StateDone                     // the verified file is at Dest
	StateFailed                   // stopped by an error; progress is kept where it can be
	StateCanceled                 // stopped and its partial file removed
)

var stateNames = [...]string{"queued", "checking", "downloading", "verifying", "paused", "done", "failed", "canceled"}

// String returns the state's name in lower case, such as "downloading".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Progress is a snapshot of one job.
type Progress struct {
	ID    int
	Name  string
	Dest  string
	State State
	// Done and Total are bytes; Total is -1 while unknown. While Verifying,
	// Done counts the bytes checksummed so far.
	Done, Total int64
	// Speed is the smoothed download speed in bytes per second.
	Speed float64
	// ETA is the estimated time left, or -1 when unknown.
	ETA time.Duration
	// Retries counts failed requests that were retried; LastRetry says why
	// the latest one failed.
	Retries   int
	LastRetry string
	// Err is set once the job has failed, been canceled, or been paused by
	// its context.
	Err error
}

// Fraction returns Done/Total in [0, 1], or 0 when the total is unknown.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	f := float64(p.Done) / float64(p.Total)
	if f > 1 {
		f = 1
	}
	return f
}

// Manager runs downloads: a queue served first come, first served,
// Config.Concurrent at a time, sharing one bandwidth limit.
type Manager struct {
	cfg Config
	lim *limiter

	mu      sync.Mutex
	nextID  int
	active  map[string]*Job // by absolute destination
	running int             // slots taken
	waiting []chan struct{} // jobs waiting for a slot, in order
}

// NewManager returns a Manager with cfg (zero fields take their defaults).
func NewManager(cfg Config) *Manager {
	cfg = cfg.withDefaults()
	return &Manager{
		cfg:    cfg,
		lim:    newLimiter(cfg.BytesPerSecond, time.Now),
		active: map[string]*Job{},
	}
}

// SetBandwidthLimit changes the total speed limit of all downloads in bytes
// per second (0: no limit). Running downloads follow it at once.
func (m *Manager) SetBandwidthLimit(bytesPerSecond int64) { m.lim.set(bytesPerSecond) }

// Jobs returns the jobs that have not finished, in the order they were started.
func (m *Manager) Jobs() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	jobs := make([]*Job, 0, len(m.active))
	for _, j := range m.active {
		jobs = append(jobs, j)
	}
	for i := 1; i < len(jobs); i++ {
		for k := i; k > 0 && jobs[k].id < jobs[k-1].id; k-- {
			jobs[k], jobs[k-1] = jobs[k-1], jobs[k]
		}
	}
	return jobs
}

// Start queues a download and returns its job at once. The job runs until
// its file is complete, it fails, it is canceled, or ctx ends; when ctx
// ends, the job stops as paused with its progress on disk.
func (m *Manager) Start(ctx context.Context, req Request) (*Job, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	dest, err := filepath.Abs(req.Dest)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", req.Dest, err)
	}
	req.Dest = dest
	if req.Name == "" {
		req.Name = filepath.Base(dest)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, busy := m.active[dest]; busy {
		return nil, fmt.Errorf("download %s: %w", dest, ErrBusy)
	}
	m.nextID++
	j := &Job{
		m:      m,
		id:     m.nextID,
		req:    req,
		ctx:    ctx,
		wake:   make(chan struct{}, 1),
		doneCh: make(chan struct{}),
		state:  StateQueued,
		queued: m.acquireLocked(), // the queue's order is the order of Start
	}
	j.total.Store(-1)
	if req.Size > 0 {
		j.total.Store(req.Size)
	}
	m.active[dest] = j
	go j.run()
	return j, nil
}

// acquire asks for a download slot. The returned channel receives a value
// once the slot is granted; pass it to abandon to give up waiting, or call
// releaseSlot after using the slot.
func (m *Manager) acquire() chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acquireLocked()
}

func (m *Manager) acquireLocked() chan struct{} {
	grant := make(chan struct{}, 1)
	if m.running < m.cfg.Concurrent && len(m.waiting) == 0 {
		m.running++
		grant <- struct{}{}
		return grant
	}
	m.waiting = append(m.waiting, grant)
	return grant
}

// abandon withdraws a request for a slot, handing the slot on when it had
// already been granted.
func (m *Manager) abandon(grant chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, w := range m.waiting {
		if w == grant {
			m.waiting = append(m.waiting[:i], m.waiting[i+1:]...)
			return
		}
	}
	<-grant
	m.releaseLocked()
}

// releaseSlot gives a slot back, to the job that has waited longest.
func (m *Manager) releaseSlot() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked()
}

func (m *Manager) releaseLocked() {
	if len(m.waiting) > 0 {
		next := m.waiting[0]
		m.waiting = m.waiting[1:]
		next <- struct{}{}
		return
	}
	m.running--
}

// release forgets a finished job.
func (m *Manager) release(j *Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[j.req.Dest] == j {
		delete(m.active, j.req.Dest)
	}
}

// RemovePartial removes the partial file, resume state and lock file of a
// destination, if there are any.
func RemovePartial(dest string) error {
	var errs []error
	for _, p := range []string{PartialPath(dest), StatePath(dest), lockPath(dest)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// HasPartial reports whether an unfinished download of dest is on disk.
func HasPartial(dest string) bool {
	_, err := os.Stat(PartialPath(dest))
	return err == nil
}

package download

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket shared by every part of every download: tokens
// are bytes, refilled at rate per second up to burst. A rate of 0 means no limit.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

// newLimiter returns a limiter of bytesPerSecond (0: unlimited).
func newLimiter(bytesPerSecond int64, now func() time.Time) *limiter {
	l := &limiter{now: now}
	l.set(bytesPerSecond)
	return l
}

// burstFor is the bucket size for a rate: a tenth of a second of data, at
// least 4 KiB so that reads stay efficient.
func burstFor(rate float64) float64 {
	b := rate / 10
	if b < 4096 {
		b = 4096
	}
	return b
}

// set changes the rate; the bucket starts full.
func (l *limiter) set(bytesPerSecond int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytesPerSecond < 0 {
		bytesPerSecond = 0
	}
	l.rate = float64(bytesPerSecond)
	l.burst = burstFor(l.rate)
	l.tokens = l.burst
	l.last = l.now()
}

// chunk returns the most bytes one read should take at a time (the burst),
// or max when unlimited.
func (l *limiter) chunk(max int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 || int(l.burst) >= max {
		return max
	}
	return int(l.burst)
}

// reserve takes n tokens and returns how long the caller must wait before
// using them (0 when they were available).
func (l *limiter) reserve(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return 0
	}
	now := l.now()
	if elapsed := now.Sub(l.last).Seconds(); elapsed > 0 {
		l.tokens += elapsed * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens * float64(time.Second) / l.rate)
}

// wait blocks until n bytes may pass, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	return sleep(ctx, l.reserve(n))
}

package download

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock is a time source the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterBytesPerTick(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(100_000, clk.now) // 100 kB/s, burst 10 kB
	steps := []struct {
		advance time.Duration
		take    int
		wait    time.Duration
	}{
		{0, 10_000, 0},                      // the full bucket
		{0, 10_000, 100 * time.Millisecond}, // 10 kB owed at 100 kB/s
		{100 * time.Millisecond, 0, 0},      // paid back
		{50 * time.Millisecond, 5_000, 0},   // 5 kB refilled
		{0, 1_000, 10 * time.Millisecond},   // 1 kB owed
		{10 * time.Second, 0, 0},            // a long idle only refills the burst ...
		{0, 20_000, 100 * time.Millisecond}, // ... so 20 kB at once owe 10 kB
		{100 * time.Millisecond, 1_000, 10 * time.Millisecond},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		if got := l.reserve(s.take); got != s.wait {
			t.Fatalf("step %d: wait %v, want %v", i, got, s.wait)
		}
	}
}

func TestLimiterRateOverManyTicks(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	const rate = 50_000
	l := newLimiter(rate, clk.now)
	var sent int
	var elapsed time.Duration
	for range 1000 {
		n := l.chunk(readBufSize)
		w := l.reserve(n)
		clk.advance(w + time.Millisecond)
		elapsed += w + time.Millisecond
		sent += n
	}
	got := float64(sent) / elapsed.Seconds()
	if got > rate*1.05 || got < rate*0.8 {
		t.Errorf("measured %.0f B/s for a limit of %d", got, rate)
	}
}

func TestLimiterUnlimitedAndChange(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	l := newLimiter(0, clk.now)
	if w := l.reserve(1 << 30); w != 0 {
		t.Errorf("unlimited waited %v", w)
	}
	if n := l.chunk(readBufSize); n != readBufSize {
		t.Errorf("unlimited chunk %d", n)
	}
	l.set(10_000)
	if n := l.chunk(readBufSize); n != 4096 {
		t.Errorf("chunk %d, want the 4 KiB minimum burst", n)
	}
	l.reserve(4096)
	if w := l.reserve(1000); w != 100*time.Millisecond {
		t.Errorf("after a change to 10 kB/s: wait %v", w)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"99999999", 99999999 * time.Second},
		{"999999999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	base, most := 100*time.Millisecond, 2*time.Second
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, time.Second, 2 * time.Second},
		{60, time.Second, 2 * time.Second},
	} {
		for _, r := range []float64{0, 0.5, 0.999} {
			d := backoff(tc.n, base, most, func() float64 { return r })
			if d < tc.lo || d > tc.hi {
				t.Errorf("backoff(%d, r=%v) = %v, want within [%v, %v]", tc.n, r, d, tc.lo, tc.hi)
			}
		}
	}
	cfg := Config{}.withDefaults()
	se := &statusError{Code: 503, RetryAfter: time.Hour}
	if d := cfg.retryWait(se, 1); d != cfg.MaxRetryAfter {
		t.Errorf("an hour of Retry-After waited %v, want the cap %v", d, cfg.MaxRetryAfter)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-0/100", 0, 0, 100, true},
		{"bytes 10-99/100", 10, 99, 100, true},
		{"bytes 10-99/*", 10, 99, -1, true},
		{"bytes */0", -1, -1, 0, true},
		{"bytes */*", 0, 0, 0, false},
		{"bytes 10-100/100", 0, 0, 0, false},
		{"bytes 10-5/100", 0, 0, 0, false},
		{"bytes -1-5/100", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		s, e, tot, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end || tot != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d %d %d %v", tc.in, s, e, tot, ok)
		}
	}
}

func TestResumeStateValidation(t *testing.T) {
	good := `{"version":1,"url":"http://x/f","size":100,"ranged":true,"parts":[{"start":0,"end":50,"done":50},{"start":50,"end":100,"done":3}]}`
	if s, err := parseState([]byte(good)); err != nil || s.done() != 53 {
		t.Fatalf("good state: %v", err)
	}
	unknown := `{"version":1,"url":"http://x/f","size":-1,"parts":[{"start":0,"end":70,"done":70,"crc32c":5}]}`
	if s, err := parseState([]byte(unknown)); err != nil || s.done() != 70 {
		t.Fatalf("state of unknown size: %v", err)
	}
	for name, bad := range map[string]string{
		"not json":                    `{`,
		"version":                     `{"version":2,"size":1,"parts":[{"start":0,"end":1}]}`,
		"unknown size, two parts":     `{"version":1,"size":-1,"ranged":true,"parts":[{"start":0,"end":5,"done":5},{"start":5,"end":5}]}`,
		"unknown size, end past done": `{"version":1,"size":-1,"parts":[{"start":0,"end":9,"done":5}]}`,
		"size -2":                     `{"version":1,"size":-2,"parts":[{"start":0,"end":0}]}`,
		"no parts":                    `{"version":1,"size":10,"ranged":true,"parts":[]}`,
		"gap":                         `{"version":1,"size":10,"ranged":true,"parts":[{"start":0,"end":4},{"start":5,"end":10}]}`,
		"short":                       `{"version":1,"size":10,"ranged":true,"parts":[{"start":0,"end":9}]}`,
		"done too far":                `{"version":1,"size":10,"ranged":true,"parts":[{"start":0,"end":10,"done":11}]}`,
		"negative done":               `{"version":1,"size":10,"ranged":true,"parts":[{"start":0,"end":10,"done":-1}]}`,
		"many unranged":               `{"version":1,"size":10,"parts":[{"start":0,"end":5},{"start":5,"end":10}]}`,
	} {
		if _, err := parseState([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "?", 0: "0 B", 999: "999 B", 1000: "1.00 kB", 4081004224: "4.08 GB", 73_000_000_000: "73.00 GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStateNames(t *testing.T) {
	if StateDownloading.String() != "downloading" || !strings.HasPrefix(State(99).String(), "state(") {
		t.Error("state names")
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"url":"u","size":10,"ranged":true,"parts":[{"start":0,"end":10,"done":4,"crc32c":7}]}`))
	f.Add([]byte(`{"version":1,"size":0,"parts":[{"start":0,"end":0}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseState(data)
		if err != nil {
			return
		}
		// Whatever parses must describe a consistent file.
		if s.done() < 0 || s.done() > s.Size {
			t.Fatalf("accepted state with %d of %d bytes done", s.done(), s.Size)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseState(again); err != nil {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1", "bytes */5", "bytes 3-9/*", "bytes 1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, e, tot, ok := parseContentRange(v)
		if !ok {
			return
		}
		if s == -1 {
			if tot < 0 {
				t.Fatalf("%q: no range and no total", v)
			}
			return
		}
		if s < 0 || e < s || (tot >= 0 && e >= tot) {
			t.Fatalf("%q gave inconsistent %d-%d/%d", v, s, e, tot)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Wed, 21 Oct 2015 07:28:00 GMT", "", "-1", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("%q gave a negative wait %v", v, d)
		}
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && d > 24*time.Hour {
			t.Fatalf("%q gave %v, more than the one-day cap", v, d)
		}
	})
}

package download

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errStalled is the cause of a request aborted because no bytes arrived for
// the stall timeout.
var errStalled = errors.New("stalled: no data received")

// permanentError marks a failure that retrying cannot fix (404, a wrong
// size, a write error).
type permanentError struct{ err error }

// Error is the wrapped error's message.
func (e *permanentError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e *permanentError) Unwrap() error { return e.err }

// permanent wraps err so that the retry loop gives up at once.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// statusError is an HTTP answer that is not the one we asked for.
type statusError struct {
	URL        string
	Code       int
	RetryAfter time.Duration // from a Retry-After header; 0 when absent
}

// Error gives the request and status, with a hint for 401, 403 and 404.
func (e *statusError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
	switch e.Code {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (the repository may be gated: accept its licence on the website, then store an access token with `llamadesk login`)"
	case http.StatusNotFound:
		msg += " (no such file)"
	}
	return msg
}

// newStatusError classifies an unexpected HTTP status: 408, 425, 429 and 5xx
// are worth retrying, any other status is permanent.
func newStatusError(resp *http.Response, now time.Time) error {
	e := &statusError{URL: redactURL(resp.Request.URL.String()), Code: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooEarly,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
		return e
	}
	return permanent(e)
}

// redactURL drops the query of a URL (signed CDN links carry credentials there).
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// maxRetryAfter bounds a parsed Retry-After (a century; a duration cannot
// hold much more).
const maxRetryAfter = 100 * 365 * 24 * time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// tooLongWait turns a status error whose Retry-After exceeds most into a
// permanent error that says when to try again; it returns nil otherwise.
func tooLongWait(err error, most time.Duration, now time.Time) error {
	var se *statusError
	if !errors.As(err, &se) || se.RetryAfter <= most {
		return nil
	}
	when := "in " + se.RetryAfter.Round(time.Second).String()
	if se.RetryAfter >= 24*time.Hour {
		when = "after " + now.Add(se.RetryAfter).UTC().Format("2006-01-02 15:04 UTC")
	}
	return permanent(fmt.Errorf("%w; the server asks to retry %s, longer than the %s a download waits: run it again then", err, when, most))
}

// errBadRedirect is wrapped by the errors of redirects that retrying cannot
// fix: a loop, too many hops, or a target that is not HTTP(S).
var errBadRedirect = errors.New("bad redirect")

// maxRedirects is how many redirects one request follows (as Go's default).
const maxRedirects = 10

// withRedirectPolicy returns a copy of c that refuses redirect loops, long
// chains and redirects to other schemes (file://, ftp://...) with an error
// wrapping errBadRedirect, and then applies c's own policy, if any.
func withRedirectPolicy(c *http.Client) *http.Client {
	cc := *c
	own := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return fmt.Errorf("%w: redirected to %s, which is not an http or https address", errBadRedirect, redactURL(req.URL.String()))
		}
		for _, v := range via {
			if v.URL.String() == req.URL.String() {
				return fmt.Errorf("%w: redirect loop back to %s", errBadRedirect, redactURL(req.URL.String()))
			}
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", errBadRedirect, maxRedirects)
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &cc
}

// backoff returns the wait before retry number n (1-based): base·2^(n-1)
// capped at max, with jitter drawn uniformly from its upper half.
func backoff(n int, base, max time.Duration, rnd func() float64) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rnd()*float64(d-half))
}

// retryWait returns how long to wait after err, the n-th failure in a row.
func (cfg *Config) retryWait(err error, n int) time.Duration {
	d := backoff(n, cfg.BackoffBase, cfg.BackoffMax, rand.Float64)
	var se *statusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		d = se.RetryAfter
		if d > cfg.MaxRetryAfter {
			d = cfg.MaxRetryAfter
		}
	}
	return d
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

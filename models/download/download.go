// Package download fetches large files over HTTP so that they survive
// anything: each file comes in parallel ranged parts whose progress is kept
// on disk beside a "<dest>.partial" file, so a pause, a crash or a kill -9
// resumes without fetching finished bytes again; dropped connections, 5xx
// answers, stalls and short reads are retried with exponential backoff; the
// SHA-256 is verified before the file is renamed into place, so a half or
// wrong file never appears under the final name.
//
// A Manager runs a queue of Jobs, a few at once, shares an optional bandwidth
// limit between them and reports progress through callbacks.
package download

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Request describes one file to fetch.
type Request struct {
	// URL is fetched with GET; redirects are followed.
	URL string
	// Dest is the final path. While downloading, the data lives in
	// Dest+".partial" and the resume state in Dest+".partial.json".
	Dest string
	// SHA256 is the expected checksum in hex. When empty the file is only
	// checked against its size.
	SHA256 string
	// Size is the expected size in bytes, or 0 when unknown. A server that
	// announces another size is refused.
	Size int64
	// Header holds extra request headers, such as Authorization.
	Header http.Header
	// Name is shown in progress reports; the base name of Dest by default.
	Name string
	// OnProgress, when set, receives this job's progress reports (in
	// addition to Config.OnProgress).
	OnProgress func(Progress)
}

// PartialPath returns the path of the partial data file for a destination.
func PartialPath(dest string) string { return dest + ".partial" }

// StatePath returns the path of the resume state (JSON) for a destination.
func StatePath(dest string) string { return dest + ".partial.json" }

// lockPath returns the path of the file locked while a download runs.
func lockPath(dest string) string { return dest + ".partial.lock" }

// File is the partial file a download writes into. *os.File implements it;
// tests substitute one that fails (a full disk).
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Config tunes a Manager. The zero value of each field selects its default.
type Config struct {
	// Client makes the requests (http.DefaultClient by default).
	Client *http.Client
	// Concurrent is how many downloads run at once (default 2).
	Concurrent int
	// Parts is how many ranged parts of one file are fetched in parallel (default 4).
	Parts int
	// MinPartSize keeps parts from being smaller than this (default 8 MiB).
	MinPartSize int64
	// StallTimeout aborts and retries a request that receives no bytes for
	// this long (default 30s).
	StallTimeout time.Duration
	// MaxRetries is how many failures in a row, without any progress in
	// between, a part tolerates before the download fails (default 8).
	MaxRetries int
	// BackoffBase and BackoffMax bound the exponential backoff between
	// retries (defaults 1s and 60s); each wait is jittered.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxRetryAfter is the longest Retry-After a download waits for (default
	// 5 min); a server asking for a longer wait fails the download at once,
	// with a message saying when to try again.
	MaxRetryAfter time.Duration
	// BytesPerSecond limits the total speed of all downloads (0: no limit).
	BytesPerSecond int64
	// CheckpointInterval is how often the resume state is written (default 2s).
	CheckpointInterval time.Duration
	// ProgressInterval is how often progress is reported while downloading (default 250ms).
	ProgressInterval time.Duration
	// OnProgress receives progress reports of every job. It is called from
	// the jobs' goroutines and must not block for long.
	OnProgress func(Progress)
	// FreeSpace returns the free bytes on the file system holding dir
	// (FreeSpace of this package by default).
	FreeSpace func(dir string) (uint64, error)
	// OpenFile opens (creating if needed) the partial file for reading and
	// writing (os.OpenFile with O_RDWR|O_CREATE by default).
	OpenFile func(path string) (File, error)
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	cfg.Client = withRedirectPolicy(cfg.Client)
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 2
	}
	if cfg.Parts <= 0 {
		cfg.Parts = 4
	}
	if cfg.MinPartSize <= 0 {
		cfg.MinPartSize = 8 << 20
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 30 * time.Second
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 8
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = time.Minute
	}
	if cfg.BackoffMax < cfg.BackoffBase {
		cfg.BackoffMax = cfg.BackoffBase
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 5 * time.Minute
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = 2 * time.Second
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 250 * time.Millisecond
	}
	if cfg.FreeSpace == nil {
		cfg.FreeSpace = FreeSpace
	}
	if cfg.OpenFile == nil {
		cfg.OpenFile = func(path string) (File, error) {
			return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		}
	}
	return cfg
}

// ErrChecksum is wrapped by the error of a download whose bytes do not
// match the expected SHA-256.
var ErrChecksum = errors.New("checksum mismatch")

// ChecksumError reports a finished download whose SHA-256 differs from the
// expected one. The partial file is removed; nothing is left at Dest.
type ChecksumError struct {
	Dest      string
	Want, Got string
}

// Error names both checksums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: checksum mismatch (SHA-256 %s, expected %s); the downloaded bytes were discarded", e.Dest, e.Got, e.Want)
}

// Unwrap lets errors.Is(err, ErrChecksum) match.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// ErrNoSpace is wrapped by InsufficientSpaceError.
var ErrNoSpace = errors.New("not enough free disk space")

// InsufficientSpaceError refuses a download that would not fit on the disk.
type InsufficientSpaceError struct {
	Dir        string
	Need, Free uint64
}

// Error names the folder and both numbers.
func (e *InsufficientSpaceError) Error() string {
	return fmt.Sprintf("not enough free disk space in %s: the download needs %s (%d bytes) more, only %s (%d bytes) are free",
		e.Dir, FormatBytes(int64(e.Need)), e.Need, FormatBytes(int64(e.Free)), e.Free)
}

// Unwrap lets errors.Is(err, ErrNoSpace) match.
func (e *InsufficientSpaceError) Unwrap() error { return ErrNoSpace }

// ErrPaused is the error of a job stopped by its context (for example Ctrl-C
// in the command line) with its progress kept for a later resume.
var ErrPaused = errors.New("download paused; its progress is kept and running it again resumes it")

// ErrCanceled is the error of a job ended by Cancel; its partial file is removed.
var ErrCanceled = errors.New("download canceled")

// ErrExists refuses to download over an existing file that does not match.
var ErrExists = errors.New("file already exists")

// ErrBusy reports that another process is downloading the same file.
var ErrBusy = errors.New("another download of this file is running")

// FormatBytes renders a byte count with a decimal unit, such as "4.08 GB".
func FormatBytes(n int64) string {
	if n < 0 {
		return "?"
	}
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// validate checks a request before it is queued.
func (r *Request) validate() error {
	if r.URL == "" {
		return errors.New("download: no URL")
	}
	if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
		return fmt.Errorf("download %s: only http and https URLs are supported", r.URL)
	}
	if r.Dest == "" {
		return fmt.Errorf("download %s: no destination", r.URL)
	}
	if r.Size < 0 {
		return fmt.Errorf("download %s: negative size %d", r.URL, r.Size)
	}
	if r.SHA256 != "" {
		s := strings.ToLower(r.SHA256)
		if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
			return fmt.Errorf("download %s: %q is not a SHA-256 (64 hex digits)", r.URL, r.SHA256)
		}
		r.SHA256 = s
	}
	return nil
}

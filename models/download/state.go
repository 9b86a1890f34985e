package download

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// stateVersion is the version of the resume state format.
const stateVersion = 1

// castagnoli is the CRC-32C table (hardware accelerated on most CPUs).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// resumeState is the JSON sidecar kept next to a partial file. It only ever
// claims bytes that were synced to the partial file before it was written.
type resumeState struct {
	Version int    `json:"version"`
	URL     string `json:"url"`
	// Size is the file's total size; -1 when the server did not say (then
	// the one part's End is how far it got).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	ETag   string `json:"etag,omitempty"`
	// Ranged tells whether the server honours Range requests.
	Ranged bool        `json:"ranged"`
	Parts  []partState `json:"parts"`
}

// partState is one contiguous range of the file: bytes [Start, End) of which
// the first Done are written; CRC is the CRC-32C of those Done bytes.
type partState struct {
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Done  int64  `json:"done"`
	CRC   uint32 `json:"crc32c"`
}

// done returns the bytes written across all parts.
func (s *resumeState) done() int64 {
	var n int64
	for _, p := range s.Parts {
		n += p.Done
	}
	return n
}

// check validates the structure of a state: parts sorted, contiguous,
// covering [0, Size), each with 0 ≤ Done ≤ End−Start.
func (s *resumeState) check() error {
	if s.Version != stateVersion {
		return fmt.Errorf("version %d, want %d", s.Version, stateVersion)
	}
	if len(s.Parts) == 0 {
		return errors.New("no parts")
	}
	if s.Size < 0 {
		// A file of unknown size is one part that ends where its bytes do.
		if s.Size != -1 || len(s.Parts) != 1 {
			return errors.New("unknown size must be -1, with one part")
		}
		p := s.Parts[0]
		if p.Start != 0 || p.Done < 0 || p.End != p.Done {
			return fmt.Errorf("part of unknown size has bad bounds (%d-%d, %d done)", p.Start, p.End, p.Done)
		}
		return nil
	}
	if !s.Ranged && len(s.Parts) != 1 {
		return errors.New("a server without Range support has one part")
	}
	var at int64
	for i, p := range s.Parts {
		if p.Start != at {
			return fmt.Errorf("part %d starts at %d, want %d", i, p.Start, at)
		}
		if p.End < p.Start || p.Done < 0 || p.Done > p.End-p.Start {
			return fmt.Errorf("part %d has bad bounds (%d-%d, %d done)", i, p.Start, p.End, p.Done)
		}
		at = p.End
	}
	if at != s.Size {
		return fmt.Errorf("parts end at %d, size is %d", at, s.Size)
	}
	return nil
}

// parseState decodes and validates a resume state.
func parseState(data []byte) (*resumeState, error) {
	var s resumeState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode resume state: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("resume state: %w", err)
	}
	return &s, nil
}

// loadState reads the sidecar at path. It returns (nil, nil) when there is none.
func loadState(path string) (*resumeState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// saveState writes the sidecar atomically: a temporary file, synced, then
// renamed over the old one.
func saveState(path string, s *resumeState) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("encode resume state: %w", err)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// verifyParts recomputes the CRC of every part's finished bytes in f and
// resets the parts that do not match (their bytes will be fetched again). It
// returns how many parts were reset.
func verifyParts(ctx context.Context, f io.ReaderAt, s *resumeState, progress func(int64)) (int, error) {
	buf := make([]byte, 1<<20)
	reset := 0
	for i := range s.Parts {
		p := &s.Parts[i]
		if p.Done == 0 {
			continue
		}
		h := crc32.New(castagnoli)
		r := io.NewSectionReader(f, p.Start, p.Done)
		n, err := io.CopyBuffer(h, ctxReader{ctx, r}, buf)
		if ctx.Err() != nil {
			return reset, context.Cause(ctx)
		}
		if progress != nil {
			progress(n)
		}
		if err != nil || n != p.Done || h.Sum32() != p.CRC {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return reset, fmt.Errorf("read partial file: %w", err)
			}
			p.Done, p.CRC = 0, 0
			reset++
		}
	}
	return reset, nil
}

// ContextReader returns a reader of r that stops, with the context's
// cause, once ctx has ended: long copies of local files stay cancellable.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

// ctxReader stops reading once its context has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the underlying reader unless the context has ended.
func (c ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

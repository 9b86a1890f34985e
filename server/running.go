package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// Running is a server answering on a port in the background, as the
// window runs it (Settings → Server).
type Running struct {
	*Server
	url    string
	cancel context.CancelFunc
	done   chan error

	stopOnce sync.Once
	stopErr  error
}

// Start creates a server for cfg and serves it on host:port (port 0: any
// free one) until Stop.
func Start(cfg Config, host string, port int) (*Running, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Server: s, url: "http://" + l.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx, l) }()
	return r, nil
}

// URL returns the server's base URL, such as http://127.0.0.1:11435 (the
// OpenAI API is under /v1, Ollama's under /api).
func (r *Running) URL() string { return r.url }

// Stop stops the server: it stops accepting, cancels the generations in
// flight, waits for the handlers (at most 5 seconds) and unloads the models.
func (r *Running) Stop() error {
	r.stopOnce.Do(func() {
		r.cancel()
		err := <-r.done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		r.stopErr = errors.Join(err, r.Server.Close())
	})
	return r.stopErr
}

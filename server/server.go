// Package server is Llamadesk's HTTP API: an OpenAI-compatible API under /v1
// (models, chat completions, completions; streaming as server-sent events)
// and an Ollama-compatible API under /api (tags, version, chat, generate,
// show; streaming as NDJSON), so that editors, scripts and other interfaces
// can use the models of the models folder.
//
// Requests name models by catalog reference or file name; the first request
// for a model loads it, one model is resident by default and an idle one is
// unloaded after a keep-alive. One generation runs at a time; waiting
// requests are served round-robin across clients. A client that goes away
// stops its generation. The server binds to loopback unless told otherwise,
// can require an API key, refuses requests from web pages of other origins
// and from unknown host names (DNS rebinding), and bounds bodies, tokens and
// connections. Requests are not saved to the history unless asked.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/models"
)

// Defaults of Config.
const (
	DefaultHost           = "127.0.0.1"
	DefaultPort           = 11435
	DefaultKeepAlive      = 5 * time.Minute
	DefaultMaxBody        = 4 << 20
	DefaultMaxConnections = 64
	DefaultMaxQueue       = 64
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Catalog and Library resolve model names; Library may be nil when only
	// Model is served.
	Catalog *models.Catalog
	Library *models.Library
	// Model is a model file to serve as the default for requests that name
	// none (--model); "" for none.
	Model string
	// Load says how models are loaded (threads, backend, GPU layers).
	Load app.LoadOptions
	// ContextSize is the context of each loaded model in tokens (0: the
	// model's training context).
	ContextSize int
	// MaxLoaded is how many models stay resident at once (default 1).
	MaxLoaded int
	// KeepAlive is how long an idle model stays loaded (default 5 minutes;
	// negative: until the server stops).
	KeepAlive time.Duration
	// APIKey, when set, is required of every request as
	// "Authorization: Bearer <key>".
	APIKey string
	// AllowedOrigins are the web origins ("https://example.com") allowed to
	// call the API from a browser besides loopback ones; "*" allows any.
	AllowedOrigins []string
	// MaxBody bounds request bodies in bytes; MaxConnections the open
	// connections; MaxQueue the requests waiting for the engine.
	MaxBody        int64
	MaxConnections int
	MaxQueue       int
	// History, when set, receives every chat request and its reply
	// (--save-history); nil saves nothing.
	History *history.Store
	// Log receives one line per request (never bodies or keys); nil discards.
	Log *slog.Logger
	// Version is reported by /api/version and in responses' fingerprints.
	Version string

	// loadModel replaces app.LoadModel (tests).
	loadModel func(path string, opts app.LoadOptions) (*app.LoadedModel, error)
}

// Server answers the OpenAI and Ollama APIs. Create it with New; its
// Handler can be served by any http.Server, or use Serve.
type Server struct {
	cfg      Config
	models   *registry
	runner   *runner
	recorder *recorder
	handler  http.Handler
	log      *slog.Logger
	// inFlight counts the API requests being answered (queued or running).
	inFlight atomic.Int64
	// loopbackOnly is set by Serve when the listener is on loopback: then
	// Host headers must name a loopback host (DNS rebinding).
	loopbackOnly atomic.Bool
	// base is cancelled by Close, stopping every generation.
	base   context.Context
	cancel context.CancelFunc
	// writeTimeout bounds each write of a streamed response, bodyTimeout
	// the reading of a request body.
	writeTimeout, bodyTimeout time.Duration
}

// New returns a server for cfg. When cfg.Model is set the file must be a
// readable GGUF file (it is not loaded until used or Preload).
func New(cfg Config) (*Server, error) {
	if cfg.MaxLoaded <= 0 {
		cfg.MaxLoaded = 1
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.Version == "" {
		cfg.Version = app.Version
	}
	if cfg.Load.Context == 0 {
		cfg.Load.Context = cfg.ContextSize // the GPU placement counts the KV cache at this size
	}
	if cfg.loadModel == nil {
		cfg.loadModel = app.LoadModel
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := &registry{catalog: cfg.Catalog, library: cfg.Library}
	if cfg.Model != "" {
		m, err := fixedModel(reg, cfg.Model)
		if err != nil {
			return nil, err
		}
		reg.fixed = &m
	}
	keepAlive := cfg.KeepAlive
	if keepAlive < 0 {
		keepAlive = -1
	}
	s := &Server{
		cfg:    cfg,
		models: reg,
		runner: &runner{load: cfg.Load, ctxLen: cfg.ContextSize, maxLoaded: cfg.MaxLoaded, keepAlive: keepAlive,
			loadModel: cfg.loadModel, queue: newFairQueue(cfg.MaxQueue)},
		log:          log,
		writeTimeout: defaultWriteTimeout,
		bodyTimeout:  defaultBodyTimeout,
	}
	if cfg.History != nil {
		s.recorder = newRecorder(cfg.History, log)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s, nil
}

// fixedModel describes the --model argument: a name the registry resolves,
// or a GGUF file anywhere.
func fixedModel(reg *registry, arg string) (model, error) {
	if m, rerr := reg.resolve(arg); rerr == nil {
		return m, nil
	}
	l := models.Describe(arg, filepath.Base(arg))
	if l.Err != "" {
		return model{}, fmt.Errorf("--model %s: not a model of the models folder or the catalog, and not a readable GGUF file: %s", arg, l.Err)
	}
	if reg.library != nil {
		if rel, err := filepath.Rel(reg.library.Dir, l.Path); err == nil && !strings.HasPrefix(rel, "..") {
			l.File = filepath.ToSlash(rel)
		}
	}
	return model{Name: reg.nameOf(l), Local: l}, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// DefaultModel returns the name of the --model model, "" when none.
func (s *Server) DefaultModel() string {
	if s.models.fixed == nil {
		return ""
	}
	return s.models.fixed.Name
}

// Preload loads the default model now (so that the first request does not
// wait for it) and returns how long that took.
func (s *Server) Preload(ctx context.Context) (time.Duration, error) {
	if s.models.fixed == nil {
		return 0, nil
	}
	return s.runner.preload(ctx, *s.models.fixed, "", nil)
}

// Status is what the server is doing, for the window's Settings → Server.
type Status struct {
	// InFlight counts the requests being answered, Queued those of them
	// waiting for the engine.
	InFlight int      `json:"in_flight"`
	Queued   int      `json:"queued"`
	Loaded   []string `json:"loaded"`
}

// Status reports the requests in flight and the loaded models.
func (s *Server) Status() Status {
	return Status{InFlight: int(s.inFlight.Load()), Queued: s.runner.queue.waiting(), Loaded: s.runner.residentNames()}
}

// Close stops every generation and unloads the models.
func (s *Server) Close() error {
	s.cancel()
	s.runner.close()
	return nil
}

// IsLoopback reports whether host (a name or an address, without port)
// means this machine only.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve answers requests on l until ctx ends, then shuts down: it stops
// accepting, cancels the generations in flight and waits up to 5 seconds for
// the handlers to return. At most MaxConnections connections are open at
// once; more wait to be accepted.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if host, _, err := net.SplitHostPort(l.Addr().String()); err == nil && IsLoopback(host) {
		s.loopbackOnly.Store(true)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(newLimitListener(l, s.cfg.MaxConnections)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cancel()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	s.runner.close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return err
}

// routes builds the handler: the API's endpoints behind the checks every
// request passes.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			h(w, r)
		}
	}
	mux.HandleFunc("GET /v1/models", s.openAIModels)
	mux.HandleFunc("GET /v1/models/{model...}", s.openAIModel)
	mux.HandleFunc("POST /v1/chat/completions", api(s.openAIChat))
	mux.HandleFunc("POST /v1/completions", api(s.openAICompletion))
	mux.HandleFunc("GET /api/tags", s.ollamaTags)
	mux.HandleFunc("GET /api/version", s.ollamaVersion)
	mux.HandleFunc("GET /api/ps", s.ollamaPS)
	mux.HandleFunc("POST /api/chat", api(s.ollamaChat))
	mux.HandleFunc("POST /api/generate", api(s.ollamaGenerate))
	mux.HandleFunc("POST /api/show", s.ollamaShow)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Llamadesk is running: OpenAI API under /v1, Ollama API under /api\n")
	})
	mux.HandleFunc("HEAD /{$}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &requestError{status: http.StatusNotFound, message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
	})
	return s.guard(mux)
}

// guard wraps the API: it logs each request, turns panics into 500s,
// answers CORS preflights, and refuses requests from other web origins,
// with a Host header that is not this machine's (when listening on
// loopback) or without the API key.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					s.writeError(rec, r, &requestError{status: http.StatusInternalServerError, message: fmt.Sprintf("internal error: %v", p)})
				}
			}
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"ms", time.Since(start).Milliseconds(), "client", clientOf(r))
		}()
		if host := hostOnly(r.Host); s.loopbackOnly.Load() && !IsLoopback(host) {
			s.writeError(rec, r, &requestError{status: http.StatusForbidden,
				message: fmt.Sprintf("host %q is not this machine: the server listens on loopback only", host)})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			if !s.originAllowed(origin) {
				s.writeError(rec, r, &requestError{status: http.StatusForbidden,
					message: fmt.Sprintf("requests from the web origin %s are not allowed (start the server with --allow-origin %s to allow them)", origin, origin)})
				return
			}
			h := rec.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				// The origin is allowed: so are the headers its client sends
				// (client libraries add their own, X-Stainless-*, OpenAI-Beta…).
				allow := r.Header.Get("Access-Control-Request-Headers")
				if allow == "" {
					allow = "Authorization, Content-Type"
				}
				h.Set("Access-Control-Allow-Headers", allow)
				h.Add("Vary", "Access-Control-Request-Headers")
				h.Set("Access-Control-Max-Age", "600")
				rec.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if s.cfg.APIKey != "" && !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="llamadesk"`)
			s.writeError(rec, r, &requestError{status: http.StatusUnauthorized, code: "invalid_api_key",
				message: "missing or wrong API key: send the header Authorization: Bearer <key>"})
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// authorized checks the bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.cfg.APIKey)) == 1
}

// originAllowed reports whether a browser page of origin may call the API:
// pages served from this machine, and the configured origins.
func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return IsLoopback(u.Hostname())
	case "app", "tauri", "vscode-webview", "vscode-file":
		return true // desktop applications' own pages
	}
	return false
}

// hostOnly strips the port from a Host header.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return hostport
}

// clientOf names the client for fair queueing and logs: its IP address.
func clientOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// statusRecorder remembers the status written, for the log and for knowing
// whether an error can still be sent.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter, remembering the first status.
func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter (a write without a status is a 200).
func (w *statusRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeError answers with err in the shape of the API the path belongs to.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err *requestError) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, err.status, map[string]string{"error": err.message})
		return
	}
	writeJSON(w, err.status, openAIErrorBody(err))
}

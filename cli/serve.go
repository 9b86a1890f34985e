package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/server"
)

// stringsFlag collects a repeatable string flag.
type stringsFlag []string

// String implements flag.Value.
func (s *stringsFlag) String() string { return fmt.Sprint(*s) }

// Set implements flag.Value: each use adds a string.
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// runServe implements `llamadesk serve`: the OpenAI- and Ollama-compatible
// API on loopback (or --host), until Ctrl-C.
func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	host := fs.String("host", server.DefaultHost, "address to listen on; anything but loopback exposes the models to the network")
	port := fs.Int("port", server.DefaultPort, "port to listen on (0: any free port)")
	keyFile := fs.String("api-key-file", "", "require the key in this `file` as Authorization: Bearer <key>")
	model := fs.String("model", "", "default model (catalog name, file in the models folder, or a GGUF `path`), loaded at start")
	saveHistory := fs.Bool("save-history", false, "save the chats the API answers in the history")
	ctxLen := fs.Int("ctx", 0, "context size of each model in tokens (0: the model's)")
	keepAlive := fs.Duration("keep-alive", server.DefaultKeepAlive, "unload a model idle this long (negative: never)")
	maxLoaded := fs.Int("max-loaded", 1, "models kept loaded at once")
	maxConns := fs.Int("max-connections", server.DefaultMaxConnections, "open connections at most")
	maxQueue := fs.Int("max-queue", server.DefaultMaxQueue, "requests waiting for the engine at most (more get 503)")
	var origins stringsFlag
	fs.Var(&origins, "allow-origin", "also allow browser pages of this `origin` (https://example.com; repeatable; * for any)")
	quiet := fs.Bool("quiet", false, "do not log requests on stderr")
	threads := fs.Int("threads", 0, "CPU threads (0: one per physical core)")
	backend := fs.String("backend", "auto", "compute backend: auto, cpu or gl")
	gpuLayers := fs.Int("gpu-layers", -1, "layers to run on the GPU (-1: as many as fit)")
	kvType := fs.String("kv-type", "f16", "KV cache `type`: f16, q8_0 or f32")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *port < 0 || *port > 65535:
		return usageError("--port %d: want 0 to 65535", *port)
	case *maxLoaded < 1 || *maxConns < 1 || *maxQueue < 1:
		return usageError("--max-loaded, --max-connections and --max-queue must be at least 1")
	case *ctxLen < 0:
		return usageError("--ctx %d: want 0 (the model's) or more", *ctxLen)
	}
	switch *backend {
	case "auto", "cpu", "gl":
	default:
		return usageError("--backend %q: want auto, cpu or gl", *backend)
	}
	if *threads < 0 || *threads > maxThreads {
		return usageError("--threads %d: want 1 to %d (0: one per physical core)", *threads, maxThreads)
	}
	kv, err := engine.ParseKVType(*kvType)
	if err != nil {
		return usageError("--kv-type: %v", err)
	}
	key, err := readKeyFile(env, *keyFile)
	if err != nil {
		return err
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := a.Models()
	if err != nil {
		return err
	}
	cfg := server.Config{
		Catalog: svc.Catalog, Library: svc.Library, Model: *model,
		Load:        app.LoadOptions{Threads: *threads, Backend: *backend, GPULayers: *gpuLayers, Context: *ctxLen, KVType: kv},
		ContextSize: *ctxLen, MaxLoaded: *maxLoaded, KeepAlive: *keepAlive, APIKey: key, AllowedOrigins: origins,
		MaxConnections: *maxConns, MaxQueue: *maxQueue,
	}
	if *keepAlive == 0 {
		cfg.KeepAlive = time.Nanosecond // unload right after each request
	}
	if !*quiet {
		cfg.Log = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	if *saveHistory {
		if cfg.History, err = a.History(); err != nil {
			return err
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	l, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen on %s:%d: %w", *host, *port, err)
	}
	if !server.IsLoopback(*host) {
		fmt.Fprintf(env.Stderr, "Warning: listening on %s: other machines can reach this server.\n", *host)
		if key == "" {
			fmt.Fprintln(env.Stderr, "Warning: no --api-key-file: anyone who can reach it can use your models. Set a key or use --host 127.0.0.1.")
		}
	}
	if name := srv.DefaultModel(); name != "" {
		fmt.Fprintf(env.Stderr, "Loading %s...\n", name)
		took, err := srv.Preload(ctx)
		if err != nil {
			l.Close()
			return err
		}
		fmt.Fprintf(env.Stderr, "Loaded %s in %.1f s.\n", name, took.Seconds())
	}
	base := "http://" + l.Addr().String()
	fmt.Fprintf(env.Stdout, "Llamadesk is serving on %s\n  OpenAI API: %s/v1  (e.g. POST %s/v1/chat/completions)\n  Ollama API: %s/api\n",
		base, base, base, base)
	fmt.Fprintf(env.Stdout, "Models: the files of %s (GET %s/v1/models). Ctrl-C stops.\n", svc.Library.Dir, base)
	if key != "" {
		fmt.Fprintln(env.Stdout, "Requests need the header Authorization: Bearer <key>.")
	}
	if err := srv.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "Stopped.")
	return nil
}

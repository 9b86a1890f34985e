package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/session"
)

// resident is a loaded model with its context (one KV cache, reused across
// requests by longest common prefix).
type resident struct {
	model model
	lm    *app.LoadedModel
	sess  *session.Session
	// busy is set while a request uses it; lastUsed and the idle timer
	// decide when it is unloaded. Guarded by runner.mu.
	busy     bool
	lastUsed time.Time
	timer    *time.Timer
}

// runner owns the loaded models and runs one generation at a time, handing
// the engine to waiting requests through a fair queue. The first request for
// a model loads it; with maxLoaded models resident, the least recently used
// is unloaded first; a model idle for its keep-alive is unloaded.
type runner struct {
	load      app.LoadOptions
	ctxLen    int
	maxLoaded int
	keepAlive time.Duration
	loadModel func(path string, opts app.LoadOptions) (*app.LoadedModel, error)
	queue     *fairQueue

	mu       sync.Mutex
	loaded   []*resident // least recently used first
	running  int
	closed   bool
	unloaded func(name string) // called after an idle unload (tests)
	started  func(j job)       // called when a job gets the engine (tests)
}

// job is one generation: a conversation to answer, or a text to continue.
type job struct {
	model  model
	client string
	// conv is set for chat; otherwise prompt is continued as plain text.
	conv   *chat.Conversation
	prompt string
	opts   session.Options
	// keepAlive, when set, replaces the server's keep-alive for this model
	// after the job (Ollama's keep_alive).
	keepAlive *time.Duration
	// onGranted, when set, is called once the job holds the engine, before
	// its model loads: a job refused by a full queue or left by its client
	// while queued never calls it.
	onGranted func()
	// onReady, when set, is called with the name of the backend that runs
	// the job once its model is loaded, before the first onText.
	onReady func(backend string)
	// onText receives the reply as it grows; an error from it stops the
	// generation (the client is gone).
	onText func(string) error
}

// jobResult is a finished generation.
type jobResult struct {
	reply  *session.Reply
	loaded time.Duration // time spent loading the model (0 when it was resident)
	// ctxLen is the context size the reply ran in.
	ctxLen int
	// backend names what ran it.
	backend string
	// interrupted is true when onText failed (the client went away).
	interrupted bool
}

// run waits for the engine, loads the job's model if needed and generates.
// A job whose prompt and max_tokens do not fit the context fails with a
// 400 requestError.
func (r *runner) run(ctx context.Context, j job) (*jobResult, error) {
	release, err := r.queue.acquire(ctx, j.client)
	if err != nil {
		return nil, err
	}
	defer release()
	r.mu.Lock()
	r.running++
	started := r.started
	r.mu.Unlock()
	if started != nil {
		started(j)
	}
	if j.onGranted != nil {
		j.onGranted()
	}
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()

	res, loadTime, err := r.acquireModel(j.model)
	if err != nil {
		return nil, err
	}
	defer r.releaseModel(res, j.keepAlive)
	out := &jobResult{loaded: loadTime, ctxLen: res.sess.ContextSize(), backend: res.lm.Model.Backends()[0].Name()}
	if j.onReady != nil {
		j.onReady(out.backend)
	}

	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var textErr error
	onEvent := func(e session.Event) {
		if textErr != nil || e.Text == "" || j.onText == nil {
			return
		}
		if textErr = j.onText(e.Text); textErr != nil {
			cancel()
		}
	}
	if j.conv != nil {
		out.reply, err = res.sess.Reply(genCtx, *j.conv, j.opts, onEvent)
	} else {
		if err := checkCompletionFits(res, j); err != nil {
			return nil, err
		}
		out.reply, err = res.sess.Complete(genCtx, j.prompt, j.opts, onEvent)
	}
	if err != nil {
		var overflow *chat.OverflowError
		if errors.As(err, &overflow) {
			reserve := overflow.Reserve
			if j.opts.MaxTokens > 0 {
				reserve = j.opts.MaxTokens // the session caps the reserve below the context
			}
			return nil, contextError(overflow.Tokens, reserve, overflow.Limit, j.opts.MaxTokens > 0)
		}
		if errors.Is(err, chat.ErrConversation) {
			return nil, badRequest("messages", "%v", err)
		}
		return nil, fmt.Errorf("generate with %s: %w", j.model.Name, err)
	}
	out.interrupted = textErr != nil
	return out, nil
}

// checkCompletionFits refuses a plain-text prompt that, with the room its
// max_tokens asks for, does not fit the context.
func checkCompletionFits(res *resident, j job) error {
	tok := res.lm.Tokenizer
	n := len(tok.Encode(j.prompt, tok.AddBOS(), false))
	limit := res.sess.ContextSize()
	reserve := max(j.opts.MaxTokens, 1)
	if n+reserve > limit {
		return contextError(n, reserve, limit, j.opts.MaxTokens > 0)
	}
	return nil
}

// contextError is OpenAI's context_length_exceeded, in its words.
func contextError(prompt, reserve, limit int, asked bool) *requestError {
	msg := fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens", limit, prompt)
	if asked {
		msg = fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			limit, prompt+reserve, prompt, reserve)
	} else {
		msg += ". Please reduce the length of the messages."
	}
	return &requestError{status: http.StatusBadRequest, param: "messages", code: "context_length_exceeded", message: msg}
}

// acquireModel returns the resident model m, loading it (and unloading the
// least recently used when maxLoaded are resident) if needed. It is called
// with the engine slot held, so no generation runs meanwhile.
func (r *runner) acquireModel(m model) (*resident, time.Duration, error) {
	r.mu.Lock()
	for i, res := range r.loaded {
		if res.model.Path() == m.Path() {
			r.loaded = append(append(r.loaded[:i:i], r.loaded[i+1:]...), res)
			res.busy = true
			if res.timer != nil {
				res.timer.Stop()
			}
			r.mu.Unlock()
			return res, 0, nil
		}
	}
	var evict []*resident
	for len(r.loaded) > 0 && len(r.loaded) >= r.maxLoaded {
		evict = append(evict, r.loaded[0])
		r.loaded = r.loaded[1:]
	}
	r.mu.Unlock()
	for _, res := range evict {
		res.close()
	}

	start := time.Now()
	lm, err := r.loadModel(m.Path(), r.load)
	if err != nil {
		return nil, 0, fmt.Errorf("load model %s: %w", m.Name, err)
	}
	f := chat.DetectNamed(lm.File, lm.Path)
	sess, err := lm.NewSession(f, r.ctxLen)
	if err != nil {
		lm.Close()
		return nil, 0, fmt.Errorf("load model %s: %w", m.Name, err)
	}
	res := &resident{model: m, lm: lm, sess: sess, busy: true}
	r.mu.Lock()
	r.loaded = append(r.loaded, res)
	r.mu.Unlock()
	return res, time.Since(start), nil
}

// releaseModel marks res idle and arms its unload timer: after keepAlive
// (the job's or the server's); at once when that is 0; never when negative.
func (r *runner) releaseModel(res *resident, keepAlive *time.Duration) {
	ka := r.keepAlive
	if keepAlive != nil {
		ka = *keepAlive
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res.busy = false
	res.lastUsed = time.Now()
	if r.closed || ka == 0 {
		r.unloadLocked(res)
		return
	}
	if ka > 0 {
		used := res.lastUsed
		res.timer = time.AfterFunc(ka, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if res.busy || !res.lastUsed.Equal(used) {
				return // used again since
			}
			r.unloadLocked(res)
		})
	}
}

// unloadLocked removes res from the loaded models and closes it. r.mu is held.
func (r *runner) unloadLocked(res *resident) {
	for i, x := range r.loaded {
		if x == res {
			r.loaded = append(r.loaded[:i:i], r.loaded[i+1:]...)
			res.close()
			if r.unloaded != nil {
				r.unloaded(res.model.Name)
			}
			return
		}
	}
}

// unloadNamed unloads the model m now if it is resident and idle (Ollama's
// keep_alive 0 on an empty request) and reports whether it was resident.
func (r *runner) unloadNamed(m model) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range r.loaded {
		if res.model.Path() == m.Path() {
			if !res.busy {
				r.unloadLocked(res)
			}
			return true
		}
	}
	return false
}

// preload loads m (Ollama's empty generate request, and --model at start)
// and keeps it for the keep-alive.
func (r *runner) preload(ctx context.Context, m model, client string, keepAlive *time.Duration) (time.Duration, error) {
	release, err := r.queue.acquire(ctx, client)
	if err != nil {
		return 0, err
	}
	defer release()
	res, d, err := r.acquireModel(m)
	if err != nil {
		return 0, err
	}
	r.releaseModel(res, keepAlive)
	return d, nil
}

// residentNames returns the names of the loaded models.
func (r *runner) residentNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, len(r.loaded))
	for i, res := range r.loaded {
		names[i] = res.model.Name
	}
	return names
}

// close unloads every model; later jobs still work (they load again) but
// unload at once.
func (r *runner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, res := range append([]*resident(nil), r.loaded...) {
		if !res.busy {
			r.unloadLocked(res)
		}
	}
}

// close releases the model.
func (res *resident) close() {
	if res.timer != nil {
		res.timer.Stop()
	}
	res.lm.Close()
}

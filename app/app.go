package app

import (
	"fmt"
	"os"
	"sync"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/models"
)

// App is the root of the application's services. The window and the
// command line each open one; its services are created on first use.
type App struct {
	// Home is the data folder (see DataDir).
	Home   string
	getenv func(string) string

	// historyMu guards history, the history database opened on first use
	// (see History).
	historyMu sync.Mutex
	history   *history.Store

	// modelsOnce creates models, the model manager (see Models).
	modelsOnce sync.Once
	models     *Models
	modelsErr  error

	// chatOnce creates chat, the conversation service (see Chat).
	chatOnce sync.Once
	chat     *Chat

	// gpu reports the GPU for fit estimates, probed once (see newGPUProbe).
	gpu func() *models.GPU

	// MainThread, when not nil, runs a function on the thread that owns the
	// window system and waits for it: the window app sets it (Fyne's
	// DoAndWait) before anything probes the GPU, whose OpenGL context may be
	// a GLFW window's (see LoadOptions.MainThread).
	MainThread func(func())
}

// Open returns the App for the data folder chosen by the environment
// (LLAMADESK_HOME or the platform default), creating the folder if needed.
// getenv is os.Getenv outside tests; nil means os.Getenv.
func Open(getenv func(string) string) (*App, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	home, err := DataDir(getenv)
	if err != nil {
		return nil, err
	}
	if err := EnsureDir(home); err != nil {
		return nil, fmt.Errorf("open data folder %s: %w", home, err)
	}
	a := &App{Home: home, getenv: getenv}
	a.gpu = newGPUProbe(func() func(func()) { return a.MainThread })
	return a, nil
}

// Getenv reads an environment variable through the App's environment.
func (a *App) Getenv(key string) string { return a.getenv(key) }

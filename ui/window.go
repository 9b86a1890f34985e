// Package ui is Llamadesk's window: Fyne views over the services of
// package app (chat, models, personas, settings, history). It holds no
// logic of its own beyond presenting those services.
//
// Threading: every Fyne callback runs on Fyne's goroutine (the "UI
// goroutine"). Anything that may block (the database, loading a model,
// generating, downloading, native dialogs) runs on a goroutine started by
// Window.background or a page, and comes back to the widgets only through
// fyne.Do. Fields documented "UI goroutine" are touched nowhere else.
package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/assets"
	"github.com/llamadesk/llamadesk/history"
)

// AppID is the application's identifier (also in FyneApp.toml).
const AppID = "io.github.llamadesk.Llamadesk"

// PageEnv names a development environment variable that opens the window
// on one page: welcome, chat (the newest conversation), models, catalog,
// downloads, personas or settings. `make screenshots` uses it.
const PageEnv = "LLAMADESK_UI_PAGE"

// ThemeEnv names a development environment variable that overrides the
// theme setting for one run (light or dark); `make screenshots` uses it.
const ThemeEnv = "LLAMADESK_UI_THEME"

// Page names accepted by Options.Page and PageEnv.
const (
	PageWelcome   = "welcome"
	PageChat      = "chat"
	PageModels    = "models"
	PageCatalog   = "catalog"
	PageDownloads = "downloads"
	PagePersonas  = "personas"
	PageSettings  = "settings"
)

// Options adjust a Window.
type Options struct {
	// Models replaces the model manager that the settings describe (tests
	// pass one with a loopback hub and a small catalog).
	Models *app.Models
	// Page is the page to show first ("" for the chat page with a new chat).
	Page string
	// Theme overrides the theme setting for this window ("" keeps it).
	Theme string
	// Size is the window's size as "WIDTHxHEIGHT" ("" for the default).
	Size string
	// Scene sets the window up to show one thing (see SceneEnv).
	Scene string
}

// Window is Llamadesk's main window and the state shared by its pages.
type Window struct {
	fyneApp fyne.App
	win     fyne.Window
	app     *app.App

	// ctx lives as long as the window; cancel ends replies and pauses downloads.
	ctx    context.Context
	cancel context.CancelFunc
	// bg counts the background goroutines, so that closing can wait for them.
	bg tally
	// uiMu is held by code that do runs (see do).
	uiMu sync.Mutex

	// modelsMu guards models, which a settings change may replace.
	modelsMu sync.Mutex
	models   *app.Models
	// fixedModels is true when Options.Models was given (settings do not replace it).
	fixedModels bool

	// settings are the saved settings (UI goroutine).
	settings app.Settings

	tabs        *container.AppTabs
	chatTab     *container.TabItem
	modelsTab   *container.TabItem
	personasTab *container.TabItem
	settingsTab *container.TabItem
	// page is the page the window opened on (Options.Page).
	page string
	// shownTab is the tab shown before the latest selection.
	shownTab     *container.TabItem
	chat         *chatPage
	modelsPage   *modelsPage
	personasPage *personasPage
	settingsPage *settingsPage
	downloads    *downloads
	// serverPanel and remotesPanel are Settings → Server and Remote servers.
	serverPanel  *serverPanel
	remotesPanel *remotesPanel
	// bridge brings the chat service's events to the widgets.
	bridge *bridge
	// tips draws the tooltips of icon-only buttons over the content.
	tips *tipHost

	// lastFileDialog is the last Fyne file dialog shown (the fallback when
	// no native dialog is available), for tests.
	lastFileDialog *dialog.FileDialog
}

// SizeEnv names a development environment variable that sets the
// window's size ("800x600"); `make screenshots` uses it.
const SizeEnv = "LLAMADESK_UI_SIZE"

// Run opens the window for a and blocks until it is closed. It is what
// `llamadesk` without arguments does.
func Run(a *app.App) error {
	fa := fyneapp.NewWithID(AppID)
	a.MainThread = fyne.DoAndWait // GPU contexts through GLFW make their windows there
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG()))
	w, err := New(fa, a, Options{Page: os.Getenv(PageEnv), Theme: os.Getenv(ThemeEnv), Size: os.Getenv(SizeEnv),
		Scene: os.Getenv(SceneEnv)})
	if err != nil {
		return err
	}
	w.win.ShowAndRun()
	return w.Close()
}

// New builds the window on a Fyne app. Call Close when done (Run does).
func New(fa fyne.App, a *app.App, opts Options) (*Window, error) {
	w := &Window{fyneApp: fa, app: a, models: opts.Models, fixedModels: opts.Models != nil}
	// Background work started while building finishes (in do) afterwards.
	w.uiMu.Lock()
	defer w.uiMu.Unlock()
	w.ctx, w.cancel = context.WithCancel(context.Background())
	settings, err := a.LoadSettings(w.ctx)
	var corrupt error
	if err != nil {
		// Damaged values were replaced by defaults: say so once the window shows.
		corrupt = err
	}
	w.settings = settings
	if w.models == nil {
		m, err := a.Models()
		if err != nil {
			return nil, fmt.Errorf("open the model manager: %w", err)
		}
		w.models = m
	}
	if opts.Theme != "" {
		applyTheme(fa, opts.Theme)
	} else {
		applyTheme(fa, settings.Theme)
	}

	w.win = fa.NewWindow("Llamadesk")
	w.win.Resize(fyne.NewSize(1180, 760))
	w.downloads = newDownloads(w)
	w.serverPanel = newServerPanel(w)
	w.remotesPanel = newRemotesPanel(w)
	w.chat = newChatPage(w)
	w.modelsPage = newModelsPage(w)
	w.personasPage = newPersonasPage(w)
	w.settingsPage = newSettingsPage(w)

	w.chatTab = container.NewTabItemWithIcon("Chat", theme.NewThemedResource(chatIcon), w.chat.content)
	w.modelsTab = container.NewTabItemWithIcon("Models", theme.StorageIcon(), w.modelsPage.content)
	w.personasTab = container.NewTabItemWithIcon("Personas", theme.AccountIcon(), w.personasPage.content)
	w.settingsTab = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), w.settingsPage.content)
	w.tabs = container.NewAppTabs(w.chatTab, w.modelsTab, w.personasTab, w.settingsTab)
	w.tabs.OnSelected = func(t *container.TabItem) {
		prev := w.shownTab
		if t == prev {
			return
		}
		if edits := w.editsOn(prev); edits != nil && edits.dirty() {
			// Leaving a form with unsaved edits: stay on it and ask; go on
			// once the edits are saved or discarded.
			w.tabs.Select(prev)
			edits.leave(func() { w.tabs.Select(t) }, nil)
			return
		}
		w.shownTab = t
		w.tabShown(t)
	}
	w.shownTab = w.tabs.Selected()
	content, tips := withTips(w.tabs)
	w.tips = tips
	w.win.SetContent(content)
	w.win.SetMainMenu(w.mainMenu())
	w.addShortcuts()
	w.win.SetCloseIntercept(func() {
		close := func() {
			w.cancel()
			w.win.Close()
		}
		if edits := w.editsOn(w.tabs.Selected()); edits != nil {
			edits.leave(close, nil)
			return
		}
		close()
	})

	var damaged *history.CorruptError
	if errors.As(corrupt, &damaged) {
		w.offerFreshHistory(damaged)
	} else if corrupt != nil {
		w.showError("Some settings were unreadable and use their defaults", corrupt)
	}
	w.bridge = newBridge(w.ctx, w, a.Chat(), w.chat.replyEvents)
	w.chat.start(opts.Page)
	w.showPage(opts.Page)
	w.applySize(opts.Size)
	w.page = opts.Page
	w.runScene(opts.Scene)
	w.serverPanel.load() // starts the server when it was on
	return w, nil
}

// editsOn returns the unsaved-edits tracker of a tab's form, or nil.
func (w *Window) editsOn(t *container.TabItem) *dirtyForm {
	switch t {
	case w.personasTab:
		return w.personasPage.edits
	case w.settingsTab:
		return w.settingsPage.edits
	}
	return nil
}

// tabShown refreshes the page of the tab now shown.
func (w *Window) tabShown(t *container.TabItem) {
	switch t {
	case w.modelsTab:
		w.modelsPage.reload()
	case w.personasTab:
		w.personasPage.reload()
	case w.settingsTab:
		w.settingsPage.load()
	case w.chatTab:
		w.chat.focusInput()
	}
}

// offerFreshHistory explains a damaged history database and offers to
// start an empty one (the damaged file is kept aside).
func (w *Window) offerFreshHistory(e *history.CorruptError) {
	msg := e.Error() + "\n\nStart a new, empty history? The damaged file is moved aside, not deleted."
	dialog.ShowConfirm("The history database is damaged", msg, func(ok bool) {
		if !ok {
			return
		}
		var moved string
		w.background("Start a new history", func(context.Context) error {
			var err error
			moved, err = w.app.StartFreshHistory()
			return err
		}, func(err error) {
			if err != nil {
				return
			}
			dialog.ShowInformation("New history started", "The damaged database was moved to "+moved+".", w.win)
			w.chat.start("")
			w.personasPage.reload()
		})
	}, w.win)
}

// Window returns the Fyne window.
func (w *Window) Window() fyne.Window { return w.win }

// Close stops replies and downloads (downloads pause, to be resumed), waits
// briefly for background work, and releases the loaded model and the
// history database.
func (w *Window) Close() error {
	w.cancel()
	done := make(chan struct{})
	go func() { w.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	w.serverPanel.close()
	// The chat service stops its replies, saves them and closes the model.
	return w.app.Close()
}

// showPage switches to a page by name (see PageEnv).
func (w *Window) showPage(page string) {
	switch page {
	case PageModels:
		w.tabs.Select(w.modelsTab)
		w.modelsPage.showTab(0)
	case PageCatalog:
		w.tabs.Select(w.modelsTab)
		w.modelsPage.showTab(1)
	case PageDownloads:
		w.tabs.Select(w.modelsTab)
		w.modelsPage.showTab(2)
	case PagePersonas:
		w.tabs.Select(w.personasTab)
	case PageSettings:
		w.tabs.Select(w.settingsTab)
	default:
		w.tabs.Select(w.chatTab)
	}
}

// modelService returns the current model manager (any goroutine).
func (w *Window) modelService() *app.Models {
	w.modelsMu.Lock()
	defer w.modelsMu.Unlock()
	return w.models
}

// chatService returns the conversation service (any goroutine).
func (w *Window) chatService() *app.Chat { return w.app.Chat() }

// replaceModels swaps the model manager after a settings change (any goroutine).
func (w *Window) replaceModels(m *app.Models) {
	w.modelsMu.Lock()
	defer w.modelsMu.Unlock()
	w.models = m
}

// background runs work on its own goroutine. A panic is recovered and
// reported like an error; an error (other than a cancellation) is shown in
// a dialog titled what. done, when not nil, then runs on the UI goroutine
// with work's error.
func (w *Window) background(what string, work func(ctx context.Context) error, done func(err error)) {
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		err := w.protect(func() error { return work(w.ctx) })
		w.do(func() {
			var damaged *history.CorruptError
			// A damaged database is explained once, at start (offerFreshHistory).
			if err != nil && !errors.Is(err, context.Canceled) && !errors.As(err, &damaged) {
				w.showError(what, err)
			}
			if done != nil {
				done(err)
			}
		})
	}()
}

// loadPersonas lists the personas off the UI goroutine and hands them to
// show on it (errors are shown by background).
func (w *Window) loadPersonas(show func([]history.Persona)) {
	var list []history.Persona
	w.background("List the personas", func(ctx context.Context) error {
		var err error
		list, err = w.app.Personas().List(ctx)
		return err
	}, func(err error) {
		if err == nil {
			show(list)
		}
	})
}

// do runs fn on the UI goroutine (fyne.Do), unless the window is closing.
// fn holds uiMu while it runs: in the app all such calls run one after
// the other on Fyne's goroutine anyway, but Fyne's test driver runs them at
// once on the calling goroutine, and the lock keeps them in turn there too.
// fn must not call do itself (it would wait for its own lock in tests).
func (w *Window) do(fn func()) {
	fyne.Do(func() {
		w.uiMu.Lock()
		defer w.uiMu.Unlock()
		if w.ctx.Err() == nil {
			fn()
		}
	})
}

// protect runs fn, turning a panic into an error (with the stack on stderr).
func (w *Window) protect(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "llamadesk: internal error: %v\n%s", p, debug.Stack())
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn()
}

// confirmDelete asks before deleting something: Cancel, or Delete in red.
func (w *Window) confirmDelete(title, message string, del func()) {
	d := dialog.NewConfirm(title, message, func(ok bool) {
		if ok {
			del()
		}
	}, w.win)
	d.SetConfirmText("Delete")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

// showError shows an error in a dialog titled what, in words, with the
// full error behind Details (UI goroutine).
func (w *Window) showError(what string, err error) { w.showErrorDialog(what, err) }

// wait blocks until no background work is left (tests).
func (w *Window) wait() { w.bg.Wait() }

// chatIcon is a speech bubble (Fyne's set has none).
var chatIcon = fyne.NewStaticResource("chat.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#000" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h10V9zm0 4v2h7v-2z"/></svg>`))

// applySize sets the window's size from "WIDTHxHEIGHT" (ignored when malformed).
func (w *Window) applySize(size string) {
	var width, height float32
	if _, err := fmt.Sscanf(size, "%fx%f", &width, &height); err == nil && width >= 320 && height >= 240 {
		w.win.Resize(fyne.NewSize(width, height))
	}
}

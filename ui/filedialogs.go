package ui

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"github.com/ncruces/zenity"
)

// fileFilter names a kind of file and its extensions (with dots).
type fileFilter struct {
	name string
	exts []string
}

// fileChoice says which file dialog to open.
type fileChoice struct {
	title   string
	save    bool
	folder  bool
	name    string // suggested file name (save)
	dir     string // starting folder ("" for the home folder)
	filters []fileFilter
}

// chooseFile asks the person for a file or folder with the system's own
// dialog (zenity: GTK's on Linux, the native ones on macOS and Windows),
// off the UI goroutine, falling back to Fyne's dialog where no native one
// is available. done runs on the UI goroutine with the chosen path; it is
// not called when the person cancels.
func (w *Window) chooseFile(c fileChoice, done func(path string)) {
	if !zenity.IsAvailable() {
		w.fyneFileDialog(c, done)
		return
	}
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		path, err := nativeFileDialog(w, c)
		w.do(func() {
			switch {
			case err == nil:
				done(path)
			case errors.Is(err, zenity.ErrCanceled):
			case errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "not found"):
				w.fyneFileDialog(c, done)
			default:
				w.showError("Open the file dialog", err)
			}
		})
	}()
}

// nativeFileDialog runs zenity's dialog (blocking: never on the UI goroutine).
func nativeFileDialog(w *Window, c fileChoice) (string, error) {
	opts := []zenity.Option{zenity.Title(c.title), zenity.Context(w.ctx)}
	start := c.dir
	if start == "" {
		start, _ = os.UserHomeDir()
	}
	if c.name != "" {
		start = filepath.Join(start, c.name)
	} else if start != "" {
		start += string(filepath.Separator)
	}
	if start != "" {
		opts = append(opts, zenity.Filename(start))
	}
	var filters zenity.FileFilters
	for _, f := range c.filters {
		var pats []string
		for _, e := range f.exts {
			pats = append(pats, "*"+e)
		}
		filters = append(filters, zenity.FileFilter{Name: f.name, Patterns: pats, CaseFold: true})
	}
	if len(filters) > 0 {
		opts = append(opts, filters)
	}
	switch {
	case c.folder:
		return zenity.SelectFile(append(opts, zenity.Directory())...)
	case c.save:
		return zenity.SelectFileSave(append(opts, zenity.ConfirmOverwrite())...)
	}
	return zenity.SelectFile(opts...)
}

// fyneFileDialog is the fallback: Fyne's file dialog, drawn in the window.
func (w *Window) fyneFileDialog(c fileChoice, done func(path string)) {
	var d *dialog.FileDialog
	switch {
	case c.folder:
		d = dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				w.showError(c.title, err)
			} else if u != nil {
				done(u.Path())
			}
		}, w.win)
	case c.save:
		d = dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
			if err != nil {
				w.showError(c.title, err)
				return
			}
			if wc == nil {
				return
			}
			path := wc.URI().Path()
			if err := wc.Close(); err != nil {
				w.showError(c.title, err)
				return
			}
			done(path)
		}, w.win)
		d.SetFileName(c.name)
	default:
		d = dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
			if err != nil {
				w.showError(c.title, err)
				return
			}
			if rc == nil {
				return
			}
			path := rc.URI().Path()
			rc.Close()
			done(path)
		}, w.win)
	}
	d.SetTitleText(c.title)
	if !c.folder && len(c.filters) > 0 {
		var exts []string
		for _, f := range c.filters {
			exts = append(exts, f.exts...)
		}
		d.SetFilter(storage.NewExtensionFileFilter(exts))
	}
	dir := c.dir
	if dir == "" {
		dir, _ = os.UserHomeDir()
	}
	if dir != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(l)
		}
	}
	d.Resize(fyne.NewSize(w.win.Canvas().Size().Width*0.85, w.win.Canvas().Size().Height*0.85))
	w.lastFileDialog = d
	d.Show()
}

// showInFolder opens the system's file manager at path's folder, off the
// UI goroutine.
func (w *Window) showInFolder(path string) {
	var failed error
	w.background("Show in folder", func(context.Context) error {
		var cmd *exec.Cmd
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.Command("open", "-R", path)
		case "windows":
			cmd = exec.Command("explorer", "/select,", path)
		default:
			dir := path
			if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
				dir = filepath.Dir(path)
			}
			cmd = exec.Command("xdg-open", dir)
		}
		if err := cmd.Start(); err != nil {
			// No file manager to hand it to (no xdg-open): say where it is.
			failed = err
			return nil
		}
		// explorer exits with 1 even when it worked; only a failure to start counts.
		go cmd.Wait()
		return nil
	}, func(error) {
		if failed != nil {
			w.showPath("Show in folder", "No file manager could be opened ("+filepath.Base(commandName(failed))+" is missing)", path)
		}
	})
}

// commandName names the program an exec error is about.
func commandName(err error) string {
	var e *exec.Error
	if errors.As(err, &e) {
		return e.Name
	}
	return "the file manager"
}

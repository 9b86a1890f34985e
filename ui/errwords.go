package ui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/models/download"
)

// internalPrefixes are the contexts Go code wraps errors in that mean
// nothing to a person ("build prompt: the system prompt…").
var internalPrefixes = []string{"build prompt: ", "invalid: ", "measure: ", "new session: ", "gguf: ", "history: ",
	"internal error: "}

var (
	hostPattern   = regexp.MustCompile(`https?://([^/\s:"]+)`)
	statusPattern = regexp.MustCompile(`HTTP (\d{3})`)
)

// errorWords says in a person's words what went wrong: a network failure
// names the host and what to check, a full disk what to free, an HTTP
// refusal why; anything else is the error without the program's internal
// prefixes. The full error goes behind "Details" (see Window.showError).
func errorWords(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	host := "the server"
	if m := hostPattern.FindStringSubmatch(msg); m != nil {
		host = m[1]
	}
	var space *download.InsufficientSpaceError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	var netErr net.Error
	status := 0
	if m := statusPattern.FindStringSubmatch(msg); m != nil {
		status, _ = strconv.Atoi(m[1])
	}
	switch {
	case errors.As(err, &space):
		return fmt.Sprintf("There is not enough free disk space in %s: the download needs %s more and %s are free. "+
			"Free some space, then resume.", space.Dir, download.FormatBytes(int64(space.Need)), download.FormatBytes(int64(space.Free)))
	case errors.Is(err, syscall.ENOSPC):
		return "The disk is full. Free some space, then resume: what was downloaded so far is kept."
	case errors.Is(err, download.ErrChecksum):
		return "The downloaded file did not match its published checksum, so it was discarded. Try again; if it happens again, the file on the server may be damaged."
	case status == 401 || status == 403:
		return fmt.Sprintf("%s refused the file (HTTP %d): the model may be gated. Accept its licence on the website, "+
			"then store an access token in Settings → Hugging Face.", host, status)
	case status == 404:
		return fmt.Sprintf("The file is not on %s (HTTP 404): it may have been moved or renamed.", host)
	case status == 429 || status >= 500:
		return fmt.Sprintf("%s is busy or failing (HTTP %d). Try again in a while.", host, status)
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &netErr),
		errors.As(err, &urlErr) && !errors.Is(err, context.Canceled),
		strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"):
		if urlErr != nil {
			if u, perr := url.Parse(urlErr.URL); perr == nil && u.Hostname() != "" {
				host = u.Hostname()
			}
		}
		return "Can't reach " + host + " — check the connection (or set a mirror in Settings)."
	case errors.Is(err, exec.ErrNotFound):
		return "The program needed for this is not installed: " + plainError(err)
	}
	return plainError(err)
}

// plainError is an error's message without internal prefixes, as a
// sentence.
func plainError(err error) string {
	msg := err.Error()
	for changed := true; changed; {
		changed = false
		for _, p := range internalPrefixes {
			if i := strings.Index(msg, p); i >= 0 && (i == 0 || strings.HasSuffix(msg[:i], ": ")) {
				msg = msg[:i] + msg[i+len(p):]
				changed = true
			}
		}
	}
	return sentence(msg)
}

// sentence capitalises text and ends it with a full stop.
func sentence(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return text
	}
	r, n := utf8.DecodeRuneInString(text)
	text = string(unicode.ToUpper(r)) + text[n:]
	if !strings.HasSuffix(text, ".") && !strings.HasSuffix(text, "!") && !strings.HasSuffix(text, "?") && !strings.HasSuffix(text, "…") {
		text += "."
	}
	return text
}

// errorContent is a dialog's body for an error: the words, and the full
// error behind Details when it says more.
func errorContent(err error) fyne.CanvasObject {
	words := widget.NewLabel(errorWords(err))
	words.Wrapping = fyne.TextWrapWord
	if sentence(err.Error()) == words.Text {
		return fixedWidth(words, 440)
	}
	full := widget.NewLabel(err.Error())
	full.Wrapping = fyne.TextWrapBreak
	full.Selectable = true
	details := widget.NewAccordion(widget.NewAccordionItem("Details", full))
	return fixedWidth(container.NewVBox(words, details), 440)
}

// showErrorDialog shows an error titled what: words first, Details after.
func (w *Window) showErrorDialog(what string, err error) {
	dialog.NewCustom(what, "Close", errorContent(err), w.win).Show()
}

// showPath shows a path that could not be opened, with a Copy button.
func (w *Window) showPath(title, why, path string) {
	why = sentence(why)
	msg := widget.NewLabel(why + " It is here:")
	msg.Wrapping = fyne.TextWrapWord
	p := widget.NewEntry()
	p.SetText(path)
	copyBtn := widget.NewButton("Copy", func() { w.fyneApp.Clipboard().SetContent(path) })
	body := container.NewVBox(msg, container.NewBorder(nil, nil, nil, copyBtn, p))
	dialog.NewCustom(title, "Close", fixedWidth(body, 460), w.win).Show()
}

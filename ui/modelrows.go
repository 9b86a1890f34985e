package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// fitImportance colours a fit verdict.
func fitImportance(v models.Verdict) widget.Importance {
	switch v {
	case models.FitsGPU:
		return widget.SuccessImportance
	case models.PartialOffload, models.CPUOnly:
		return widget.MediumImportance
	}
	return widget.DangerImportance
}

// fitWords says in words whether a model fits this machine and how:
// "Fits · CPU · ~6.2 GB RAM", "Won't fit: needs 44 GB, this machine has 25 GB".
func fitWords(f models.Fit) string {
	b := func(n uint64) string { return download.FormatBytes(int64(n)) }
	have := f.RAM.Available
	if have == 0 {
		have = f.RAM.Total
	}
	switch f.Verdict {
	case models.FitsGPU:
		return "Fits · GPU · ~" + b(f.TotalBytes) + " of GPU memory"
	case models.PartialOffload:
		return fmt.Sprintf("Fits · GPU and CPU (%d of %d layers on the GPU) · ~%s", f.GPULayers, f.Layers, b(f.TotalBytes))
	case models.CPUOnly:
		return "Fits · CPU · ~" + b(f.TotalBytes) + " RAM"
	}
	return "Won't fit: needs " + b(f.TotalBytes) + ", this machine has " + b(have)
}

// localRow is a local model: its file, facts, fit and buttons.
type localRow struct {
	widget.BaseWidget
	page   *modelsPage
	entry  app.LocalEntry
	title  *widget.Label
	detail *widget.Label
	fit    *widget.Label
	use    *widget.Button
	root   fyne.CanvasObject
}

func newLocalRow(m *modelsPage) *localRow {
	r := &localRow{page: m}
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.detail = widget.NewLabel("")
	r.detail.SizeName = theme.SizeNameCaptionText
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.fit = widget.NewLabel("")
	r.use = widget.NewButtonWithIcon("Use in chat", theme.MailComposeIcon(), func() { m.useModel(r.entry) })
	show := iconButton(theme.FolderOpenIcon(), "Show the file in its folder", func() { m.w.showInFolder(r.entry.Path) })
	show.Importance = widget.MediumImportance
	del := iconButton(theme.DeleteIcon(), "Delete this model…", func() { m.deleteModel(r.entry) })
	del.Importance = widget.DangerImportance
	r.root = container.NewBorder(nil, nil, nil, container.NewHBox(r.fit, r.use, show, del),
		container.New(&tightVBox{}, r.title, r.detail))
	r.ExtendBaseWidget(r)
	return r
}

func (r *localRow) set(l app.LocalEntry) {
	r.entry = l
	r.title.SetText(l.File)
	var facts []string
	if l.Name != "" {
		facts = append(facts, l.Name)
	}
	if l.Quantization != "" {
		facts = append(facts, l.Quantization)
	}
	facts = append(facts, download.FormatBytes(l.Size))
	if l.Parameters > 0 {
		facts = append(facts, paramsText(l.Parameters)+" parameters")
	}
	if l.ContextLength > 0 {
		facts = append(facts, fmt.Sprintf("context %d", l.ContextLength))
	}
	if l.Link != "" {
		facts = append(facts, "link to "+l.Link)
	}
	if l.Err != "" {
		facts = []string{"cannot be read: " + l.Err}
	}
	r.detail.SetText(strings.Join(facts, " · "))
	switch {
	case l.Fit != nil:
		r.fit.SetText(fitWords(*l.Fit))
		r.fit.Importance = fitImportance(l.Fit.Verdict)
	default:
		r.fit.SetText("")
	}
	r.fit.Refresh()
	setEnabled(r.use, l.Err == "")
}

// CreateRenderer draws the row.
func (r *localRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.root) }

// catalogRow is one downloadable file of a catalog model.
type catalogRow struct {
	widget.BaseWidget
	page   *modelsPage
	entry  app.CatalogEntry
	title  *widget.Label
	detail *widget.Label
	size   *widget.Label
	fit    *widget.Label
	action *widget.Button
	root   fyne.CanvasObject
}

func newCatalogRow(m *modelsPage) *catalogRow {
	r := &catalogRow{page: m}
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.detail = widget.NewLabel("")
	r.detail.SizeName = theme.SizeNameCaptionText
	r.detail.Importance = widget.LowImportance
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.size = widget.NewLabel("")
	r.size.Alignment = fyne.TextAlignTrailing
	r.fit = widget.NewLabel("")
	r.action = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), func() { m.download(r.entry) })
	r.fit.Wrapping = fyne.TextWrapWord
	right := container.NewHBox(fixedWidth(r.size, 90), fixedWidth(r.fit, 250), fixedWidth(r.action, 160))
	r.root = container.NewBorder(nil, nil, nil, right, container.New(&tightVBox{}, r.title, r.detail))
	r.ExtendBaseWidget(r)
	return r
}

func (r *catalogRow) set(e app.CatalogEntry) {
	r.entry = e
	title := e.Quant
	if e.Recommended {
		title += "  ★ recommended"
	}
	r.title.SetText(title)
	r.detail.SetText(r.page.w.modelService().Catalog.Quants[e.Quant])
	size := download.FormatBytes(e.Size)
	if !e.SizeExact {
		size = "≈ " + size
	}
	r.size.SetText(size)
	r.fit.SetText(fitWords(e.Fit))
	r.fit.Importance = fitImportance(e.Fit.Verdict)
	r.fit.Refresh()
	running := r.page.w.downloads.find(e.Ref) != nil
	wontFit := e.Fit.Verdict == models.WontFit
	switch {
	case e.Downloaded:
		r.action.SetText("Downloaded")
		r.action.SetIcon(theme.ConfirmIcon())
		r.action.Importance = widget.LowImportance
		r.action.Disable()
	case running:
		r.action.SetText("Downloading")
		r.action.SetIcon(theme.DownloadIcon())
		r.action.Importance = widget.LowImportance
		r.action.Disable()
	case e.Partial:
		r.action.SetText("Resume")
		r.action.SetIcon(theme.MediaPlayIcon())
		r.action.Importance = widget.HighImportance
		r.action.Enable()
	default:
		r.action.SetText("Download")
		r.action.SetIcon(theme.DownloadIcon())
		r.action.Importance = widget.MediumImportance
		switch {
		case wontFit:
			// Still possible (another machine, more memory later), but not invited.
			r.action.SetText("Download anyway")
			r.action.Importance = widget.LowImportance
		case e.Recommended:
			r.action.Importance = widget.HighImportance
		}
		r.action.Enable()
	}
	r.action.Refresh()
}

// CreateRenderer draws the row.
func (r *catalogRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.root) }

// downloadRow is one download: name, progress bar, numbers and buttons.
type downloadRow struct {
	widget.BaseWidget
	page    *modelsPage
	entry   *dlEntry
	title   *widget.Label
	bar     *widget.ProgressBar
	detail  *widget.Label
	pause   *widget.Button
	cancel  *widget.Button
	dismiss *widget.Button
	retry   *widget.Button
	details *widget.Button
	// failed replaces the bar when the download failed.
	failed *widget.Label
	root   fyne.CanvasObject
}

func newDownloadRow(m *modelsPage) *downloadRow {
	r := &downloadRow{page: m}
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.bar = widget.NewProgressBar()
	r.detail = widget.NewLabel("")
	r.detail.SizeName = theme.SizeNameCaptionText
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.pause = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), func() {
		if r.entry.progress.State == download.StatePaused {
			m.w.downloads.resume(r.entry)
		} else {
			m.w.downloads.pause(r.entry)
		}
	})
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { m.w.downloads.cancel(r.entry) })
	r.dismiss = widget.NewButtonWithIcon("Dismiss", theme.ContentClearIcon(), func() { m.w.downloads.dismiss(r.entry) })
	r.retry = widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), func() { m.w.downloads.start(r.entry.ref, r.entry.name) })
	r.retry.Importance = widget.HighImportance
	r.details = widget.NewButtonWithIcon("Details", theme.InfoIcon(), func() {
		if r.entry.err != nil {
			m.w.showError("Downloading "+r.entry.name+" failed", r.entry.err)
		}
	})
	r.failed = widget.NewLabelWithStyle("Failed", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.failed.Importance = widget.DangerImportance
	buttons := container.NewHBox(r.pause, r.cancel, r.details, r.retry, r.dismiss)
	r.root = container.NewBorder(nil, nil, nil, container.NewCenter(buttons),
		container.New(&tightVBox{}, r.title, container.NewStack(r.bar, r.failed), r.detail))
	r.ExtendBaseWidget(r)
	return r
}

func (r *downloadRow) set(e *dlEntry) {
	r.entry = e
	r.title.SetText(e.name)
	r.bar.SetValue(e.progress.Fraction())
	r.detail.SetText(e.describe())
	if e.finished && e.err != nil {
		r.detail.Importance = widget.DangerImportance
	} else {
		r.detail.Importance = widget.MediumImportance
	}
	r.detail.Refresh()
	paused := e.progress.State == download.StatePaused
	if paused {
		r.pause.SetText("Resume")
		r.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		r.pause.SetText("Pause")
		r.pause.SetIcon(theme.MediaPauseIcon())
	}
	failed := e.finished && e.err != nil && !errors.Is(e.err, download.ErrCanceled) && !errors.Is(e.err, download.ErrPaused)
	setVisible(r.pause, !e.finished)
	setVisible(r.cancel, !e.finished)
	setVisible(r.dismiss, e.finished)
	setVisible(r.retry, failed)
	setVisible(r.details, failed)
	setVisible(r.bar, !failed)
	setVisible(r.failed, failed)
	setEnabled(r.pause, e.started)
}

// CreateRenderer draws the row.
func (r *downloadRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.root) }

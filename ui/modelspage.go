package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// modelsPage is the model manager: local models (import, delete, show in
// folder), the Llama 2 catalog with sizes and fit verdicts, and the
// downloads with their progress.
type modelsPage struct {
	w       *Window
	content fyne.CanvasObject
	tabs    *container.AppTabs
	dlTab   *container.TabItem
	machine *widget.Label

	list       *app.ModelList // the last scan (UI goroutine)
	localList  *widget.List
	localEmpty *widget.Label

	catModels  *widget.List
	catFiles   *widget.List
	catHeader  *widget.RichText
	catModel   int // the catalog model shown
	catEntries []app.CatalogEntry

	dlList  *widget.List
	dlEmpty *widget.Label
}

func newModelsPage(w *Window) *modelsPage {
	m := &modelsPage{w: w}
	m.machine = widget.NewLabel("")
	m.machine.Importance = widget.LowImportance
	m.machine.Wrapping = fyne.TextWrapWord
	importBtn := widget.NewButtonWithIcon("Import a GGUF file…", theme.FolderOpenIcon(), m.importModel)
	importBtn.Importance = widget.HighImportance
	folderBtn := widget.NewButtonWithIcon("Open the models folder", theme.FolderIcon(), func() {
		dir := w.modelService().Library.Dir
		if err := app.EnsureDir(dir); err != nil {
			w.showError("Open the models folder", err)
			return
		}
		w.showInFolder(dir)
	})
	refresh := iconButton(theme.ViewRefreshIcon(), "Look for models again", m.reload)
	refresh.Importance = widget.MediumImportance

	m.localList = widget.NewList(
		func() int { return m.localLen() },
		func() fyne.CanvasObject { return newLocalRow(m) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if m.list != nil && id < len(m.list.Local) {
				o.(*localRow).set(m.list.Local[id])
			}
		})
	m.localList.OnSelected = func(id widget.ListItemID) { m.localList.Unselect(id) }
	m.localEmpty = widget.NewLabel("No models yet. Download one from the Catalog tab, or import a GGUF file you already have.")
	m.localEmpty.Wrapping = fyne.TextWrapWord
	m.localEmpty.Alignment = fyne.TextAlignCenter
	local := container.NewBorder(
		container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(importBtn, folderBtn, refresh), m.machine)),
		nil, nil, nil, container.NewStack(m.localList, container.NewCenter(fixedWidth(m.localEmpty, 420))))

	m.catModels = widget.NewList(
		func() int { return len(w.modelService().Catalog.Models) },
		func() fyne.CanvasObject {
			t := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			t.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("")
			d.SizeName = theme.SizeNameCaptionText
			d.Truncation = fyne.TextTruncateEllipsis
			return container.New(&tightVBox{}, t, d)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			cat := w.modelService().Catalog
			if id >= len(cat.Models) {
				return
			}
			md := cat.Models[id]
			c := o.(*fyne.Container)
			c.Objects[0].(*widget.Label).SetText(md.Title)
			kind := "base model"
			if md.Chat {
				kind = "chat model"
			}
			c.Objects[1].(*widget.Label).SetText(fmt.Sprintf("%s · %s parameters · %d files", kind, paramsText(md.Parameters), len(md.Files)))
		})
	m.catModels.OnSelected = func(id widget.ListItemID) {
		m.catModel = id
		m.showCatalogModel()
	}
	m.catHeader = widget.NewRichText()
	m.catHeader.Wrapping = fyne.TextWrapWord
	m.catFiles = widget.NewList(
		func() int { return len(m.catEntries) },
		func() fyne.CanvasObject { return newCatalogRow(m) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(m.catEntries) {
				o.(*catalogRow).set(m.catEntries[id])
			}
		})
	m.catFiles.OnSelected = func(id widget.ListItemID) { m.catFiles.Unselect(id) }
	catRight := container.NewBorder(m.catHeader, nil, nil, nil, m.catFiles)
	catSplit := container.NewHSplit(m.catModels, catRight)
	catSplit.Offset = 0.28

	m.dlList = widget.NewList(
		func() int { return len(w.downloads.entries) },
		func() fyne.CanvasObject { return newDownloadRow(m) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(w.downloads.entries) {
				o.(*downloadRow).set(w.downloads.entries[id])
			}
		})
	m.dlList.OnSelected = func(id widget.ListItemID) { m.dlList.Unselect(id) }
	m.dlEmpty = widget.NewLabel("No downloads. Start one from the Catalog tab.")
	m.dlEmpty.Alignment = fyne.TextAlignCenter
	w.downloads.onChange = m.downloadsChanged

	m.dlTab = container.NewTabItemWithIcon("Downloads", theme.DownloadIcon(), container.NewStack(m.dlList, container.NewCenter(m.dlEmpty)))
	m.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Local models", theme.ComputerIcon(), local),
		container.NewTabItemWithIcon("Catalog", theme.ListIcon(), catSplit),
		m.dlTab,
	)
	m.content = m.tabs
	return m
}

func (m *modelsPage) localLen() int {
	if m.list == nil {
		return 0
	}
	return len(m.list.Local)
}

// showTab shows the local models (0), the catalog (1) or the downloads (2).
func (m *modelsPage) showTab(i int) {
	m.tabs.SelectIndex(i)
	m.reload()
}

// reload scans the models folder and computes the fit verdicts again.
func (m *modelsPage) reload() {
	var list *app.ModelList
	ctxLen := m.w.settings.ContextSize
	svc := m.w.modelService()
	m.w.background("List the models", func(context.Context) error {
		var err error
		list, err = svc.List(models.FitOptions{Context: ctxLen})
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		m.list = list
		m.machine.SetText(machineText(list))
		m.localList.Refresh()
		setVisible(m.localEmpty, len(list.Local) == 0)
		m.showCatalogModel()
		if len(svc.Catalog.Models) > 0 {
			m.catModels.Select(m.catModel)
		}
	})
}

// machineText describes the models folder and the memory fit verdicts use.
func machineText(l *app.ModelList) string {
	s := "Models folder: " + l.ModelsDir + "\nThis machine: " + download.FormatBytes(int64(l.Memory.Total)) + " RAM"
	if l.Memory.Available > 0 {
		s += " (" + download.FormatBytes(int64(l.Memory.Available)) + " available)"
	}
	if l.GPU != nil {
		s += ", " + l.GPU.Name + " with " + download.FormatBytes(int64(l.GPU.Total))
	} else {
		s += ", no GPU backend found"
	}
	return s
}

// showCatalogModel lists the files of the selected catalog model.
func (m *modelsPage) showCatalogModel() {
	cat := m.w.modelService().Catalog
	if m.list == nil || m.catModel >= len(cat.Models) {
		return
	}
	md := cat.Models[m.catModel]
	m.catEntries = m.catEntries[:0]
	for _, e := range m.list.Catalog {
		if strings.HasPrefix(e.Ref, md.Name+":") {
			m.catEntries = append(m.catEntries, e)
		}
	}
	lic := cat.Licences[md.Licence]
	m.catHeader.ParseMarkdown(fmt.Sprintf("## %s\n\nFrom **%s** on Hugging Face · %s parameters · context %d tokens\n\n*%s:* %s",
		md.Title, md.Repo, paramsText(md.Parameters), md.ContextLength, lic.Name, lic.Summary))
	m.catFiles.Refresh()
}

// downloadsChanged redraws the downloads and what depends on them.
func (m *modelsPage) downloadsChanged() {
	n := m.w.downloads.activeCount()
	title := "Downloads"
	if n > 0 {
		title = fmt.Sprintf("Downloads (%d)", n)
	}
	if m.dlTab.Text != title {
		m.dlTab.Text = title
		m.tabs.Refresh()
	}
	setVisible(m.dlEmpty, len(m.w.downloads.entries) == 0)
	m.dlList.Refresh()
	m.catFiles.Refresh()
}

// download starts (or resumes) a catalog file's download.
func (m *modelsPage) download(e app.CatalogEntry) {
	m.w.downloads.start(e.Ref, e.Title+" "+e.Quant)
	m.tabs.Select(m.dlTab)
}

// importModel asks for a GGUF file and brings it into the models folder.
func (m *modelsPage) importModel() {
	m.w.chooseFile(fileChoice{title: "Import a GGUF model", filters: []fileFilter{{"GGUF models", []string{".gguf"}}}},
		func(path string) {
			link := "Link to it (leave the file where it is)"
			cp := "Copy it into the models folder"
			how := widget.NewRadioGroup([]string{link, cp}, nil)
			how.SetSelected(link)
			dialog.ShowForm("Import "+filepath.Base(path), "Import", "Cancel",
				[]*widget.FormItem{widget.NewFormItem("How", how)}, func(ok bool) {
					if !ok {
						return
					}
					mode := models.ImportLink
					if how.Selected == cp {
						mode = models.ImportCopy
					}
					m.runImport(path, mode)
				}, m.w.win)
		})
}

// runImport imports path with a progress dialog for a copy.
func (m *modelsPage) runImport(path string, mode models.ImportMode) {
	bar := widget.NewProgressBar()
	prog := dialog.NewCustomWithoutButtons("Importing "+filepath.Base(path), bar, m.w.win)
	if mode == models.ImportCopy {
		prog.Show()
	}
	var lm models.LocalModel
	svc := m.w.modelService()
	m.w.background("Import the model", func(ctx context.Context) error {
		var err error
		lm, err = svc.Import(ctx, path, mode, func(done, total int64) {
			if total > 0 {
				f := float64(done) / float64(total)
				m.w.do(func() { bar.SetValue(f) })
			}
		})
		return err
	}, func(err error) {
		prog.Hide()
		if err != nil {
			return
		}
		m.reload()
		m.w.chat.refreshModels(true)
		dialog.ShowInformation("Model imported", lm.File+" is in the models folder. Pick it in the chat's model picker.", m.w.win)
	})
}

// deleteModel removes a local model after confirmation.
func (m *modelsPage) deleteModel(l app.LocalEntry) {
	if m.w.chat.modelPath() == l.Path {
		dialog.ShowInformation("Model in use", "The chat is using this model. Choose another model in the chat first.", m.w.win)
		return
	}
	what := "Delete " + l.File + " (" + download.FormatBytes(l.Size) + ") from the models folder?"
	if l.Link != "" {
		what = "Remove the link " + l.File + " from the models folder? The file it points to (" + l.Link + ") is kept."
	}
	m.w.confirmDelete("Delete model", what, func() {
		svc := m.w.modelService()
		m.w.background("Delete the model", func(context.Context) error {
			_, err := svc.Remove(l.File)
			return err
		}, func(error) {
			m.reload()
			m.w.chat.refreshModels(false)
		})
	})
}

// useModel loads a local model in the chat and shows the chat.
func (m *modelsPage) useModel(l app.LocalEntry) {
	m.w.tabs.Select(m.w.chatTab)
	m.w.chat.selectAndLoad(l)
}

// paramsText writes a parameter count as "7B" or "13.0M".
func paramsText(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.0fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%d", n)
}

// catalogFirst returns the recommended file of the catalog model shown
// (or its first), nil before the catalog is listed.
func (m *modelsPage) catalogFirst() *app.CatalogEntry {
	for i := range m.catEntries {
		if m.catEntries[i].Recommended {
			return &m.catEntries[i]
		}
	}
	if len(m.catEntries) > 0 {
		return &m.catEntries[0]
	}
	return nil
}

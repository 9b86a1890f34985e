package ui

import (
	"context"
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/history"
)

// exportFilters are the export formats as file dialog filters.
var exportFilters = []fileFilter{
	{"Markdown", []string{".md"}},
	{"JSON (can be imported again)", []string{".json"}},
	{"Web page", []string{".html"}},
	{"Plain text", []string{".txt"}},
}

// exportFormatFor picks the export format from a file name's extension;
// a name without a known extension gets Markdown and ".md".
func exportFormatFor(path string) (string, history.Format) {
	if f, err := history.ParseFormat(filepath.Ext(path)); err == nil && filepath.Ext(path) != "" {
		return path, f
	}
	return path + history.FormatMarkdown.Ext(), history.FormatMarkdown
}

// exportCurrent exports the open conversation (menu and Ctrl/Cmd+E).
func (p *chatPage) exportCurrent() {
	if p.convID == "" {
		dialog.ShowInformation("Nothing to export", "This chat has no messages yet.", p.w.win)
		return
	}
	p.exportConversation(p.conv)
}

// exportConversation asks where to save a conversation, then writes it in
// the format its file name's extension says.
func (p *chatPage) exportConversation(c history.Conversation) {
	p.w.chooseFile(fileChoice{
		title:   "Export “" + displayTitle(c) + "”",
		save:    true,
		name:    history.ExportFileName(c, history.FormatMarkdown),
		filters: exportFilters,
	}, func(path string) { p.writeExport(c.ID, path, nil) })
}

// writeExport writes conversation id to path off the UI goroutine; done
// (optional) runs on the UI goroutine after it was written.
func (p *chatPage) writeExport(id, path string, done func(path string)) {
	path, format := exportFormatFor(path)
	p.w.background("Export the conversation", func(ctx context.Context) error {
		return p.w.chatService().ExportFile(ctx, path, id, format)
	}, func(err error) {
		if err != nil {
			return
		}
		p.status.SetText("Exported to " + path)
		if done != nil {
			done(path)
		}
	})
}

// exportAll exports every conversation into a folder, one file each.
func (p *chatPage) exportAll() {
	formats := map[string]history.Format{
		"Markdown (.md)": history.FormatMarkdown, "JSON (.json)": history.FormatJSON,
		"Web page (.html)": history.FormatHTML, "Plain text (.txt)": history.FormatText,
	}
	sel := widget.NewSelect([]string{"Markdown (.md)", "JSON (.json)", "Web page (.html)", "Plain text (.txt)"}, nil)
	sel.SetSelected("Markdown (.md)")
	dialog.ShowForm("Export all conversations", "Choose a folder…", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Format", sel)}, func(ok bool) {
			if !ok {
				return
			}
			f := formats[sel.Selected]
			p.w.chooseFile(fileChoice{title: "Export all conversations into…", folder: true}, func(dir string) {
				var paths []string
				p.w.background("Export all conversations", func(ctx context.Context) error {
					var err error
					paths, err = p.w.chatService().ExportAll(ctx, dir, f)
					return err
				}, func(err error) {
					if err == nil {
						dialog.ShowInformation("Exported", fmt.Sprintf("%d conversations were written to %s.", len(paths), dir), p.w.win)
					}
				})
			})
		}, p.w.win)
}

// importConversation adds a conversation exported as JSON and opens it.
func (p *chatPage) importConversation() {
	p.w.chooseFile(fileChoice{title: "Import a conversation", filters: []fileFilter{{"Conversations exported as JSON", []string{".json"}}}},
		func(path string) {
			var id string
			p.w.background("Import the conversation", func(ctx context.Context) error {
				var err error
				id, err = p.w.chatService().ImportFile(ctx, path)
				return err
			}, func(err error) {
				if err == nil {
					p.w.tabs.Select(p.w.chatTab)
					p.openConversation(id)
				}
			})
		})
}

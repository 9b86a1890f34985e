package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
)

// The menu bar and keyboard shortcuts, and what they do.

// mainMenu is the menu bar: File (new chat, export, import a model) and
// View (search, settings), with the keyboard shortcuts shown beside them.
func (w *Window) mainMenu() *fyne.MainMenu {
	short := func(k fyne.KeyName) fyne.Shortcut {
		return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
	}
	newChat := fyne.NewMenuItem("New chat", w.newChat)
	newChat.Shortcut = short(fyne.KeyN)
	newChat.Icon = theme.ContentAddIcon()
	export := fyne.NewMenuItem("Export conversation…", w.chat.exportCurrent)
	export.Shortcut = short(fyne.KeyE)
	export.Icon = theme.DocumentSaveIcon()
	exportAll := fyne.NewMenuItem("Export all conversations…", w.chat.exportAll)
	importConv := fyne.NewMenuItem("Import conversation…", w.chat.importConversation)
	importConv.Icon = theme.UploadIcon()
	importModel := fyne.NewMenuItem("Import a GGUF model…", w.modelsPage.importModel)
	importModel.Icon = theme.FolderOpenIcon()
	search := fyne.NewMenuItem("Search conversations", w.focusSearch)
	search.Shortcut = short(fyne.KeyF)
	search.Icon = theme.SearchIcon()
	settings := fyne.NewMenuItem("Settings", w.openSettings)
	settings.Shortcut = short(fyne.KeyComma)
	settings.Icon = theme.SettingsIcon()
	stop := fyne.NewMenuItem("Stop the reply (Esc)", w.chat.stop)
	stop.Icon = theme.MediaStopIcon()
	return fyne.NewMainMenu(
		fyne.NewMenu("File", newChat, fyne.NewMenuItemSeparator(), export, exportAll, importConv, fyne.NewMenuItemSeparator(), importModel),
		fyne.NewMenu("View", search, settings, fyne.NewMenuItemSeparator(), stop),
	)
}

// addShortcuts registers the window's keyboard shortcuts on the canvas too
// (the menu handles them first where a menu bar is shown), and Esc.
func (w *Window) addShortcuts() {
	c := w.win.Canvas()
	add := func(k fyne.KeyName, fn func()) {
		c.AddShortcut(&desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { fn() })
	}
	add(fyne.KeyN, w.newChat)
	add(fyne.KeyE, w.chat.exportCurrent)
	add(fyne.KeyF, w.focusSearch)
	add(fyne.KeyComma, w.openSettings)
	add(fyne.KeyS, w.saveForm)
	c.SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape {
			w.chat.stop()
		}
	})
}

// saveForm saves the form shown (Ctrl+S): a persona or the settings.
func (w *Window) saveForm() {
	switch w.tabs.Selected() {
	case w.personasTab:
		w.personasPage.save()
	case w.settingsTab:
		w.settingsPage.save()
	}
}

// newChat shows the chat page with a new, empty conversation.
func (w *Window) newChat() {
	w.tabs.Select(w.chatTab)
	w.chat.newDraft(w.chat.draftPersona)
}

// focusSearch shows the chat page and puts the cursor in the search box.
func (w *Window) focusSearch() {
	w.tabs.Select(w.chatTab)
	w.win.Canvas().Focus(w.chat.sidebar.search)
}

// openSettings shows the settings page.
func (w *Window) openSettings() { w.tabs.Select(w.settingsTab) }

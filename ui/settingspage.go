package ui

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/models"
)

// settingsPage edits app.Settings, and the Hugging Face token (kept in its
// own file by the models package, never in the database).
type settingsPage struct {
	w       *Window
	content fyne.CanvasObject

	modelsDir   *widget.Entry
	threads     *widget.Entry
	backend     *widget.Select
	gpuLayers   *widget.Entry
	contextSize *widget.Entry
	kvType      *widget.Select
	policy      *widget.Select
	theme       *widget.RadioGroup
	endpoint    *widget.Entry
	token       *widget.Entry
	tokenState  *widget.Label
	// edits tracks unsaved changes.
	edits  *dirtyForm
	scroll *container.Scroll
}

// policyLabels explain the overflow policies.
var policyLabels = map[string]string{
	chat.KeepSystemDropOldest.String(): "Drop the oldest turns, keep the persona",
	chat.TruncateMiddle.String():       "Keep the first and latest turns, drop the middle",
	chat.StopAtLimit.String():          "Drop nothing: stop when the context is full",
}

func newSettingsPage(w *Window) *settingsPage {
	sp := &settingsPage{w: w}
	dataDir := widget.NewLabel(w.app.Home)
	dataDir.Wrapping = fyne.TextWrapBreak
	openData := widget.NewButtonWithIcon("Open", theme.FolderOpenIcon(), func() { w.showInFolder(w.app.Home) })
	sp.modelsDir = widget.NewEntry()
	browse := widget.NewButtonWithIcon("Choose…", theme.FolderIcon(), func() {
		w.chooseFile(fileChoice{title: "Choose the models folder", folder: true}, func(dir string) { sp.modelsDir.SetText(dir) })
	})
	sp.threads = widget.NewEntry()
	sp.threads.SetPlaceHolder("automatic (one per core)")
	sp.backend = widget.NewSelect(app.Backends(), nil)
	sp.gpuLayers = widget.NewEntry()
	sp.gpuLayers.SetPlaceHolder("-1: as many as fit")
	sp.kvType = widget.NewSelect(app.KVTypes(), nil)
	sp.contextSize = widget.NewEntry()
	sp.contextSize.SetPlaceHolder("the model's own (4096 for Llama 2)")
	var policies []string
	for _, p := range []chat.Policy{chat.KeepSystemDropOldest, chat.TruncateMiddle, chat.StopAtLimit} {
		policies = append(policies, policyLabels[p.String()])
	}
	sp.policy = widget.NewSelect(policies, nil)
	sp.theme = widget.NewRadioGroup([]string{"System", "Light", "Dark"}, nil)
	sp.theme.Horizontal = true
	sp.endpoint = widget.NewEntry()
	sp.endpoint.SetPlaceHolder(models.DefaultEndpoint)
	sp.token = widget.NewPasswordEntry()
	sp.token.SetPlaceHolder("hf_…  (only for gated models such as meta-llama's)")
	saveToken := widget.NewButton("Save token", sp.saveToken)
	removeToken := widget.NewButton("Remove", sp.removeToken)
	sp.tokenState = widget.NewLabel("")
	sp.tokenState.Importance = widget.LowImportance
	sp.tokenState.SizeName = theme.SizeNameCaptionText
	sp.tokenState.Wrapping = fyne.TextWrapWord

	item := func(label string, o fyne.CanvasObject, hint string) *widget.FormItem {
		it := widget.NewFormItem(label, o)
		it.HintText = hint
		return it
	}
	sp.edits = newDirtyForm(w)
	sp.edits.what = func() string { return "the settings" }
	sp.edits.snapshot = sp.snapshot
	sp.edits.save = sp.saveThen
	sp.edits.discard = sp.load
	sp.edits.watch(sp.modelsDir, sp.threads, sp.gpuLayers, sp.contextSize, sp.endpoint)
	sp.edits.watchSelect(sp.backend, sp.kvType, sp.policy)
	sp.theme.OnChanged = func(string) { sp.edits.changed() }
	target := scrollTarget(&sp.scroll)
	wheel := func(e *widget.Entry) fyne.CanvasObject { return wheelThrough(e, target) }
	storage := widget.NewForm(
		item("Data folder", container.NewBorder(nil, nil, nil, openData, dataDir),
			"The history database, settings and token live here. Start Llamadesk with LLAMADESK_HOME set to use another folder."),
		item("Models folder", container.NewBorder(nil, nil, nil, browse, wheel(sp.modelsDir)), "Empty: the data folder's models folder."),
	)
	engine := widget.NewForm(
		item("CPU threads", wheel(sp.threads), "Empty or 0: one per physical core."),
		item("Backend", sp.backend, "auto tries the GPU and falls back to the CPU; gl is OpenGL 4.3 (Linux), metal is macOS."),
		item("GPU layers", wheel(sp.gpuLayers), "How many layers run on the GPU: -1 as many as fit, 0 none."),
		item("Context size", wheel(sp.contextSize), "Tokens the model sees at once. Empty or 0: the model's own. Larger takes more memory."),
		item("KV cache", sp.kvType, "How the context is stored: f16 (default) takes half the memory of f32, q8_0 a quarter."),
		item("When a chat outgrows it", sp.policy, ""),
	)
	look := widget.NewForm(item("Theme", sp.theme, ""))
	hub := widget.NewForm(
		item("Endpoint", wheel(sp.endpoint), "Empty: $HF_ENDPOINT, else huggingface.co. A mirror works too."),
		item("Access token", container.NewBorder(nil, sp.tokenState, nil, container.NewHBox(saveToken, removeToken), wheel(sp.token)), ""),
	)
	save := widget.NewButtonWithIcon("Save settings", theme.DocumentSaveIcon(), sp.save)
	save.Importance = widget.HighImportance
	revert := widget.NewButton("Revert", sp.load)
	hint := widget.NewLabel("Ctrl+S saves")
	hint.SizeName = theme.SizeNameCaptionText
	hint.Importance = widget.LowImportance
	body := container.NewVBox(
		widget.NewCard("Storage", "", storage),
		widget.NewCard("Running models", "", engine),
		widget.NewCard("Appearance", "", look),
		widget.NewCard("Hugging Face", "", hub),
	)
	bar := container.NewVBox(widget.NewSeparator(), container.NewPadded(container.NewHBox(save, revert, sp.edits.mark, hint)))
	sp.scroll = container.NewVScroll(container.NewPadded(body))
	sp.content = container.NewBorder(nil, bar, nil, nil, sp.scroll)
	sp.load()
	return sp
}

// load shows the saved settings.
func (sp *settingsPage) load() {
	sp.edits.loading = true
	defer func() {
		sp.edits.loading = false
		sp.edits.loaded()
	}()
	s := sp.w.settings
	sp.modelsDir.SetText(s.ModelsDir)
	sp.modelsDir.SetPlaceHolder(sp.w.modelService().Library.Dir)
	sp.threads.SetText(intText(s.Threads, 0))
	sp.backend.SetSelected(s.Backend)
	sp.gpuLayers.SetText(strconv.Itoa(s.GPULayers))
	sp.contextSize.SetText(intText(s.ContextSize, 0))
	sp.kvType.SetSelected(s.KVType)
	sp.policy.SetSelected(policyLabels[s.Policy().String()])
	sp.theme.SetSelected(strings.ToUpper(s.Theme[:1]) + s.Theme[1:])
	sp.endpoint.SetText(s.HFEndpoint)
	sp.token.SetText("")
	sp.showTokenState()
}

// snapshot is the form's fields as one string (see dirtyForm).
func (sp *settingsPage) snapshot() string {
	return strings.Join([]string{sp.modelsDir.Text, sp.threads.Text, sp.backend.Selected, sp.gpuLayers.Text,
		sp.contextSize.Text, sp.kvType.Selected, sp.policy.Selected, sp.theme.Selected, sp.endpoint.Text}, "\x00")
}

// intText writes n, or "" when it is the "automatic" value.
func intText(n, auto int) string {
	if n == auto {
		return ""
	}
	return strconv.Itoa(n)
}

// read returns the settings the page shows, validated.
func (sp *settingsPage) read() (app.Settings, error) {
	s := sp.w.settings
	num := func(e *widget.Entry, name string, empty int) (int, error) {
		t := strings.TrimSpace(e.Text)
		if t == "" {
			return empty, nil
		}
		n, err := strconv.Atoi(t)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a whole number", name, t)
		}
		return n, nil
	}
	var err error
	s.ModelsDir = strings.TrimSpace(sp.modelsDir.Text)
	if s.Threads, err = num(sp.threads, "CPU threads", 0); err != nil {
		return s, err
	}
	s.Backend = sp.backend.Selected
	s.KVType = sp.kvType.Selected
	if s.GPULayers, err = num(sp.gpuLayers, "GPU layers", -1); err != nil {
		return s, err
	}
	if s.ContextSize, err = num(sp.contextSize, "context size", 0); err != nil {
		return s, err
	}
	for name, label := range policyLabels {
		if label == sp.policy.Selected {
			s.OverflowPolicy = name
		}
	}
	s.Theme = strings.ToLower(sp.theme.Selected)
	s.HFEndpoint = strings.TrimSpace(sp.endpoint.Text)
	return s, s.Validate()
}

// save stores the settings and applies them: the theme at once, a new
// models folder or endpoint to the model manager, engine settings to the
// next model loaded (with an offer to reload the current one).
func (sp *settingsPage) save() { sp.saveThen(func(bool) {}) }

// saveThen saves, then tells done whether it worked.
func (sp *settingsPage) saveThen(done func(ok bool)) {
	s, err := sp.read()
	if err != nil {
		sp.w.showError("Save the settings", err)
		done(false)
		return
	}
	old := sp.w.settings
	var newModels *app.Models
	needModels := !sp.w.fixedModels && (s.ModelsDir != old.ModelsDir || s.HFEndpoint != old.HFEndpoint)
	busy := sp.w.downloads.activeCount() > 0
	sp.w.background("Save the settings", func(ctx context.Context) error {
		if err := sp.w.app.SaveSettings(ctx, s); err != nil {
			return err
		}
		if needModels && !busy {
			m, err := sp.w.app.ModelsFor(s)
			if err != nil {
				return err
			}
			newModels = m
		}
		return nil
	}, func(err error) {
		if err != nil {
			done(false)
			return
		}
		defer done(true)
		sp.w.settings = s
		if s.Theme != old.Theme {
			applyTheme(sp.w.fyneApp, s.Theme)
			sp.w.chat.themeChanged()
		}
		if newModels != nil {
			sp.w.replaceModels(newModels)
			sp.w.chat.refreshModels(false)
			sp.w.modelsPage.reload()
		}
		sp.load()
		var notes []string
		if needModels && busy {
			notes = append(notes, "The new models folder or endpoint applies after the running downloads finish and Llamadesk restarts.")
		}
		engineChanged := s.Threads != old.Threads || s.Backend != old.Backend || s.GPULayers != old.GPULayers || s.ContextSize != old.ContextSize || s.KVType != old.KVType
		if path := sp.w.chat.modelPath(); engineChanged && path != "" {
			dialog.ShowConfirm("Settings saved", strings.Join(append(notes, "Reload the model now with the new engine settings?"), "\n\n"), func(ok bool) {
				if ok {
					sp.w.chat.loadModel(path)
				}
			}, sp.w.win)
			return
		}
		if len(notes) > 0 {
			dialog.ShowInformation("Settings saved", strings.Join(notes, "\n\n"), sp.w.win)
		}
	})
}

// showTokenState says where the access token comes from.
func (sp *settingsPage) showTokenState() {
	svc := sp.w.modelService()
	switch {
	case sp.w.app.Getenv(models.TokenEnv) != "":
		sp.tokenState.SetText("The token comes from $" + models.TokenEnv + ", which overrides a stored one.")
	case fileExists(svc.TokenPath()):
		sp.tokenState.SetText("A token is stored in " + svc.TokenPath() + " (readable only by you).")
	default:
		sp.tokenState.SetText("No token stored. Llama 2 files in the catalog need none.")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// saveToken stores the access token in its file.
func (sp *settingsPage) saveToken() {
	token := strings.TrimSpace(sp.token.Text)
	if token == "" {
		return
	}
	svc := sp.w.modelService()
	sp.w.background("Save the access token", func(context.Context) error { return svc.Login(token) }, func(err error) {
		if err == nil {
			sp.token.SetText("")
		}
		sp.showTokenState()
	})
}

// removeToken deletes the stored access token.
func (sp *settingsPage) removeToken() {
	svc := sp.w.modelService()
	sp.w.background("Remove the access token", func(context.Context) error { return svc.Logout() }, func(error) {
		sp.showTokenState()
	})
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/internal/inputfile"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// openModels opens the App of the environment and its model manager, with
// the download settings given on the command line (0: defaults).
func openModels(env *Env, parts int, bytesPerSecond int64) (*app.Models, error) {
	a, err := app.Open(env.Getenv)
	if err != nil {
		return nil, err
	}
	if parts == 0 && bytesPerSecond == 0 {
		return a.Models()
	}
	return app.NewModels(a.Home, a.Getenv, app.ModelsConfig{Parts: parts, BytesPerSecond: bytesPerSecond})
}

// runPull implements `llamadesk pull NAME` and `llamadesk pull --url URL --sha256 HEX --out FILE`.
func runPull(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "pull")
	url := fs.String("url", "", "download this `URL` instead of a catalog model (with --sha256 and --out)")
	sum := fs.String("sha256", "", "the SHA-256 (hex) the --url file must have")
	out := fs.String("out", "", "where to put the --url `file`")
	parts := fs.Int("parts", 0, "parallel parts per file (default 4)")
	limit := fs.String("limit", "", "bandwidth limit in bytes per second, such as 500k or 5M (k, M, G: powers of 1000; Ki, Mi, Gi: of 1024)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "Usage: llamadesk pull NAME              (e.g. llama-2-7b-chat:Q4_K_M; see `llamadesk models`)")
		fmt.Fprintln(env.Stderr, "       llamadesk pull --url URL --sha256 HEX --out FILE")
		fmt.Fprintln(env.Stderr, "Downloads resume where they stopped: Ctrl-C pauses, running the same command again resumes.")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	rate, err := parseRate(*limit)
	if err != nil {
		return usageError("--limit: %v", err)
	}
	if *parts < 0 {
		return usageError("--parts must be positive")
	}
	if *url != "" {
		if len(rest) > 0 {
			return usageError("give either NAME or --url, not both")
		}
		if *sum == "" || *out == "" {
			return usageError("--url needs --sha256 HEX and --out FILE")
		}
		svc, err := openModels(env, *parts, rate)
		if err != nil {
			return err
		}
		bar := newProgressBar(env, *quiet)
		err = svc.PullURL(ctx, *url, *sum, *out, bar.update)
		bar.finish()
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(*out)
		fmt.Fprintln(env.Stdout, abs)
		return nil
	}
	if *sum != "" || *out != "" {
		return usageError("--sha256 and --out go with --url")
	}
	if len(rest) != 1 {
		return usageError("name a model, such as llama-2-7b-chat:Q4_K_M (see `llamadesk models`)")
	}
	svc, err := openModels(env, *parts, rate)
	if err != nil {
		return err
	}
	m, f, err := svc.Catalog.Resolve(rest[0])
	if err != nil {
		return err
	}
	if lic, ok := svc.Catalog.Licences[m.Licence]; ok && !*quiet {
		fmt.Fprintf(env.Stderr, "%s is under the %s (%s).\n", m.Title, lic.Name, lic.URL)
	}
	if !*quiet {
		fmt.Fprintf(env.Stderr, "Fetching %s (%s) from %s\n", f.File, download.FormatBytes(f.Size), m.Repo)
	}
	bar := newProgressBar(env, *quiet)
	res, err := svc.Pull(ctx, rest[0], bar.update)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.Path)
	return nil
}

// parseRate reads a bandwidth such as "500k", "5M", "2Mi" or "1.5MB/s"; "" is no limit.
func parseRate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	s = strings.TrimSuffix(s, "/s")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b")
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v*mult > 1e15 {
		return 0, fmt.Errorf("%q is not a rate such as 500k or 5M", s)
	}
	return int64(v * mult), nil
}

// progressBar draws download progress on stderr: rewritten in place on a
// terminal, a line every few seconds otherwise.
type progressBar struct {
	w     io.Writer
	tty   bool
	quiet bool
	every time.Duration

	mu        sync.Mutex
	last      time.Time
	lastState download.State
	lastName  string
	drawn     int // width of the line on screen (terminal)
}

func newProgressBar(env *Env, quiet bool) *progressBar {
	tty := isTerminal(env.Stderr) && env.Getenv("TERM") != "dumb"
	return &progressBar{w: env.Stderr, tty: tty, quiet: quiet, every: 5 * time.Second, lastState: -1}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update draws p when it is time to.
func (b *progressBar) update(p download.Progress) {
	if b.quiet {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	changed := p.State != b.lastState || p.Name != b.lastName
	interval := b.every
	if b.tty {
		interval = 200 * time.Millisecond
	}
	if !changed && now.Sub(b.last) < interval {
		return
	}
	b.last, b.lastState, b.lastName = now, p.State, p.Name
	line := progressLine(p)
	if !b.tty {
		fmt.Fprintln(b.w, line)
		return
	}
	pad := ""
	if n := len([]rune(line)); n < b.drawn {
		pad = strings.Repeat(" ", b.drawn-n)
	}
	fmt.Fprint(b.w, "\r"+line+pad)
	b.drawn = len([]rune(line))
}

// finish ends the line on a terminal.
func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty && b.drawn > 0 {
		fmt.Fprintln(b.w)
		b.drawn = 0
	}
}

// progressLine renders one progress report.
func progressLine(p download.Progress) string {
	pct := fmt.Sprintf("%5.1f%%", 100*p.Fraction())
	var s string
	switch p.State {
	case download.StateDownloading:
		const width = 24
		filled := int(p.Fraction() * width)
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		if filled > 0 && filled < width {
			bar = strings.Repeat("=", filled-1) + ">" + strings.Repeat(" ", width-filled)
		}
		s = fmt.Sprintf("%s [%s] %s  %s / %s", p.Name, bar, pct, download.FormatBytes(p.Done), download.FormatBytes(p.Total))
		if p.Speed > 0 {
			s += fmt.Sprintf("  %s/s", download.FormatBytes(int64(p.Speed)))
		}
		if p.ETA >= 0 {
			s += "  ETA " + p.ETA.String()
		}
		if p.Retries > 0 {
			s += fmt.Sprintf("  (%d retries)", p.Retries)
		}
	case download.StateChecking:
		s = p.Name + " checking"
		if p.Done > 0 {
			s += " the partial download " + pct
		}
	case download.StateVerifying:
		s = fmt.Sprintf("%s verifying SHA-256 %s", p.Name, pct)
	case download.StateDone:
		s = fmt.Sprintf("%s done: %s verified", p.Name, download.FormatBytes(p.Total))
	case download.StatePaused:
		s = fmt.Sprintf("%s paused at %s / %s", p.Name, download.FormatBytes(p.Done), download.FormatBytes(p.Total))
	default:
		s = fmt.Sprintf("%s %s", p.Name, p.State)
	}
	return s
}

// runModels implements `llamadesk models [--json]` and `llamadesk models import FILE`.
func runModels(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "import" {
		return runModelsImport(ctx, env, args[1:])
	}
	fs := newFlagSet(env, "models")
	asJSON := fs.Bool("json", false, "print JSON (every quantization, with the numbers behind each fit)")
	all := fs.Bool("all", false, "list every quantization of the catalog, not only the usual pick")
	ctxLen := fs.Int("ctx", 0, "context length for the fit estimate (default: the model's, 4096 for Llama 2)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ctxLen < 0 {
		return usageError("--ctx must be positive")
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	list, err := svc.List(models.FitOptions{Context: *ctxLen})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, list)
	}
	w := env.Stdout
	fmt.Fprintf(w, "This machine: %s RAM", download.FormatBytes(int64(list.Memory.Total)))
	if list.Memory.Available > 0 {
		fmt.Fprintf(w, ", %s available", download.FormatBytes(int64(list.Memory.Available)))
	}
	if list.GPU != nil {
		fmt.Fprintf(w, "; GPU %s with %s", terminalSafe(list.GPU.Name), download.FormatBytes(int64(list.GPU.Total)))
	} else {
		fmt.Fprint(w, "; no GPU backend")
	}
	fmt.Fprintf(w, ".\nModels folder: %s\n\n", terminalSafe(list.ModelsDir))

	fmt.Fprintln(w, "Catalog (download with `llamadesk pull NAME`; * marks the usual pick):")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tFIT\tSTATUS")
	for _, e := range list.Catalog {
		status := ""
		switch {
		case e.Downloaded:
			status = "downloaded"
		case e.Partial:
			status = "partly downloaded"
		}
		if !*all && !e.Recommended && status == "" {
			continue
		}
		mark := ""
		if e.Recommended {
			mark = " *"
		}
		size := download.FormatBytes(e.Size)
		if !e.SizeExact {
			size = "~" + size
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", e.Ref, mark, size, e.FitSummary, status)
	}
	tw.Flush()
	if !*all {
		fmt.Fprintln(w, "(`llamadesk models --all` lists every quantization.)")
	}
	fmt.Fprintln(w)
	if len(list.Local) == 0 {
		fmt.Fprintln(w, "No local models yet.")
		return nil
	}
	fmt.Fprintln(w, "Local models:")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tQUANT\tPARAMETERS\tSIZE\tFIT")
	for _, l := range list.Local {
		if l.Err != "" {
			fmt.Fprintf(tw, "%s\t\t\t%s\tunreadable: %s\n", terminalSafe(l.File), download.FormatBytes(l.Size), terminalSafe(l.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", terminalSafe(l.File), terminalSafe(l.Quantization), countWords(l.Parameters), download.FormatBytes(l.Size), terminalSafe(l.FitSummary))
	}
	return tw.Flush()
}

// runModelsImport implements `llamadesk models import FILE [--copy]`: the
// file joins the models folder by a symbolic link (or, with --copy, as a
// copy), as the window's Import does.
func runModelsImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "models import")
	cp := fs.Bool("copy", false, "copy the file into the models folder instead of linking to it")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "Usage: llamadesk models import FILE [--copy]   (add a GGUF file to the models folder)")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("models import needs a GGUF FILE")
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	mode := models.ImportLink
	var progress func(done, total int64)
	bar := newProgressBar(env, *quiet)
	if *cp {
		mode = models.ImportCopy
		name := filepath.Base(rest[0])
		progress = func(done, total int64) {
			bar.update(download.Progress{Name: name, State: download.StateDownloading, Done: done, Total: total, ETA: -1})
		}
	}
	m, err := svc.Import(ctx, rest[0], mode, progress)
	bar.finish()
	if err != nil {
		return err
	}
	how := "linked"
	if *cp {
		how = "copied"
	}
	fmt.Fprintf(env.Stdout, "%s %s into %s as %s\n", how, terminalSafe(rest[0]), terminalSafe(svc.Library.Dir), terminalSafe(m.File))
	return nil
}

// countWords renders a parameter count such as "6.7B" or "2.8M".
func countWords(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return strconv.FormatUint(n, 10)
}

// runRm implements `llamadesk rm NAME`.
func runRm(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "rm")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "Usage: llamadesk rm NAME   (a catalog name such as llama-2-7b-chat:Q4_K_M, or a file in the models folder)")
	}
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("name the model to remove")
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	removed, err := svc.Remove(rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %s\n", terminalSafe(removed))
	return nil
}

// runLogin implements `llamadesk login --token T | --token-file F`.
func runLogin(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "login")
	token := fs.String("token", "", "the Hugging Face access `token`")
	file := fs.String("token-file", "", "read the token from this `file` (- for standard input)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if (*token == "") == (*file == "") {
		return usageError("give exactly one of --token and --token-file")
	}
	t := *token
	if *file != "" {
		var data []byte
		var err error
		if *file == "-" {
			data, err = inputfile.ReadAll(env.Stdin, 64<<10)
		} else {
			data, err = inputfile.ReadFile(*file, 64<<10)
		}
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		t = string(data)
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	if err := svc.Login(t); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "token saved in %s (readable only by you)\n", svc.TokenPath())
	return nil
}

// runLogout implements `llamadesk logout`.
func runLogout(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "logout")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	if err := svc.Logout(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "token removed")
	return nil
}

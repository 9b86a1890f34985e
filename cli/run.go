package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// runRun implements `llamadesk run NAME [chat flags]`: one command from
// nothing to talking, as `ollama run` is. NAME is a catalog name, a file of
// the models folder or a path; a catalog model that is not downloaded yet
// is pulled first, after checking that it fits this machine. Then the
// terminal chat starts (or, with --message, one turn).
func runRun(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, "Usage: llamadesk run NAME [chat flags]   (NAME: llama-2-7b-chat:Q4_K_M, a file of the models folder, or a path)")
			fmt.Fprintln(env.Stdout, "A catalog model is downloaded first when needed; then it is `llamadesk chat --model NAME [chat flags]`.")
			return nil
		}
		return usageError("run needs a model NAME first, such as llama-2-7b-chat:Q4_K_M (see `llamadesk models`)")
	}
	name, rest := args[0], args[1:]
	for _, a := range rest {
		if a == "--model" || strings.HasPrefix(a, "--model=") || a == "-model" || strings.HasPrefix(a, "-model=") {
			return usageError("run takes the model as NAME, not --model")
		}
	}
	// The chat flags are checked before anything is downloaded.
	if _, _, err := parseChatFlags(env, append([]string{"--model", name}, rest...)); err != nil {
		return err
	}
	svc, err := openModels(env, 0, 0)
	if err != nil {
		return err
	}
	path, err := svc.ModelPath(name)
	if errors.Is(err, app.ErrNotDownloaded) {
		path, err = pullForRun(ctx, env, svc, name)
	}
	if err != nil {
		return err
	}
	return runChat(ctx, env, append([]string{"--model", path}, rest...))
}

// pullForRun downloads the catalog model ref after checking that it fits
// this machine, and returns its path. Ctrl-C pauses the download (running
// the command again resumes it).
func pullForRun(ctx context.Context, env *Env, svc *app.Models, ref string) (string, error) {
	m, f, err := svc.Catalog.Resolve(ref)
	if err != nil {
		return "", err
	}
	mem, err := models.SystemMemory()
	if err != nil {
		return "", err
	}
	var gpu *models.GPU
	if svc.GPU != nil {
		gpu = svc.GPU()
	}
	fit := models.EstimateFit(models.ShapeOf(m, f), mem, gpu, models.FitOptions{})
	if fit.Verdict == models.WontFit {
		return "", fmt.Errorf("%s won't fit this machine: it %s; pick a smaller model or quantization (`llamadesk models --all`), or download it anyway with `llamadesk pull %s`", m.Ref(f), fit.Explain(), m.Ref(f))
	}
	fmt.Fprintf(env.Stderr, "%s is not downloaded yet; fetching %s (%s) from %s: %s on this machine.\n",
		m.Ref(f), f.File, download.FormatBytes(f.Size), m.Repo, fit)
	if lic, ok := svc.Catalog.Licences[m.Licence]; ok {
		fmt.Fprintf(env.Stderr, "%s is under the %s (%s).\n", m.Title, lic.Name, lic.URL)
	}
	pctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	bar := newProgressBar(env, false)
	res, err := svc.Pull(pctx, m.Ref(f), bar.update)
	bar.finish()
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

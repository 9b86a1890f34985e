package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/server"
)

// remoteListTimeout bounds asking a remote server for its models.
const remoteListTimeout = 10 * time.Second

// runRemote implements `llamadesk remote add|list|rm`.
func runRemote(ctx context.Context, env *Env, args []string) error {
	usage := "remote needs add, list or rm: llamadesk remote add NAME --url URL [--api-key-file F] [--replace], remote list [--json], remote rm NAME"
	if len(args) == 0 {
		return usageError("%s", usage)
	}
	switch args[0] {
	case "add":
		return runRemoteAdd(ctx, env, args[1:])
	case "list", "ls":
		return runRemoteList(ctx, env, args[1:])
	case "rm", "remove":
		return runRemoteRm(env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.Stdout, usage)
		return nil
	}
	return usageError("unknown remote command %q; %s", args[0], usage)
}

func runRemoteAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "remote add")
	rawURL := fs.String("url", "", "the server's OpenAI base `URL`, such as http://box:8080/v1 (/v1 is added to a URL without a path)")
	keyFile := fs.String("api-key-file", "", "read its API key from this `file` (kept in the data folder, readable only by you)")
	replace := fs.Bool("replace", false, "replace a remote server of the same name")
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 || *rawURL == "" {
		return usageError("usage: llamadesk remote add NAME --url URL [--api-key-file F]")
	}
	key, err := readKeyFile(env, *keyFile)
	if err != nil {
		return err
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	remotes := a.Remotes()
	rm, err := remotes.Add(rest[0], *rawURL, key, *replace)
	if err != nil {
		return err
	}
	if u, err := url.Parse(rm.URL); err == nil && u.Scheme == "http" && key != "" && !server.IsLoopback(u.Hostname()) {
		fmt.Fprintf(env.Stderr, "Warning: %s is plain http: the API key crosses the network unencrypted.\n", rm.URL)
	}
	fmt.Fprintf(env.Stdout, "Added remote server %s (%s)%s.\n", rm.Name, rm.URL, map[bool]string{true: " with an API key", false: ""}[rm.HasKey])
	lctx, cancel := context.WithTimeout(ctx, remoteListTimeout)
	defer cancel()
	models, err := remotes.Models(lctx, rm.Name)
	if err != nil {
		fmt.Fprintf(env.Stderr, "Warning: listing its models failed: %v\n", err)
		return nil
	}
	fmt.Fprintf(env.Stdout, "Its models (use them as --model remote:%s/MODEL):\n", rm.Name)
	for _, m := range models {
		fmt.Fprintf(env.Stdout, "  %s\n", app.RemoteRef(rm.Name, m))
	}
	return nil
}

func runRemoteList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "remote list")
	asJSON := fs.Bool("json", false, "print JSON")
	offline := fs.Bool("offline", false, "do not ask the servers for their models")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	remotes := a.Remotes()
	var all []app.RemoteModels
	if *offline {
		list, err := remotes.List()
		if err != nil {
			return err
		}
		for _, rm := range list {
			all = append(all, app.RemoteModels{Remote: rm, Models: []string{}})
		}
	} else {
		lctx, cancel := context.WithTimeout(ctx, remoteListTimeout)
		defer cancel()
		if all, err = remotes.AllModels(lctx); err != nil {
			return err
		}
	}
	if *asJSON {
		if all == nil {
			all = []app.RemoteModels{}
		}
		return writeJSON(env.Stdout, all)
	}
	if len(all) == 0 {
		fmt.Fprintln(env.Stdout, "No remote servers. Add one with: llamadesk remote add NAME --url URL [--api-key-file F]")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURL\tKEY\tMODELS")
	for _, r := range all {
		key := "no"
		if r.Remote.HasKey {
			key = "yes"
		}
		models := strings.Join(r.Models, ", ")
		switch {
		case r.Err != "":
			models = "(" + r.Err + ")"
		case *offline:
			models = "-"
		case models == "":
			models = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Remote.Name, r.Remote.URL, key, models)
	}
	return tw.Flush()
}

func runRemoteRm(env *Env, args []string) error {
	fs := newFlagSet(env, "remote rm")
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("usage: llamadesk remote rm NAME")
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Remotes().Remove(rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed remote server %s and its key.\n", rest[0])
	return nil
}

// chatResponder returns what answers `chat`: a remote model for
// --model remote:NAME/MODEL, else the local model file loaded.
func chatResponder(a *app.App, f *chatFlags, ctxLen int) (app.Responder, error) {
	if strings.HasPrefix(f.model, app.RemotePrefix) {
		return a.Remotes().Responder(f.model)
	}
	lm, err := f.load()
	if err != nil {
		return nil, err
	}
	r, err := app.NewLocalResponder(lm, ctxLen)
	if err != nil {
		lm.Close()
		return nil, err
	}
	return r, nil
}

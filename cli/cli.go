// Package cli runs Llamadesk's headless commands (`llamadesk <command> ...`).
// Each command parses its own flags and calls the services in package app,
// the same ones the window uses. Results go to stdout (JSON where a command
// offers --json); errors go to stderr with a non-zero exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/llamadesk/llamadesk/app"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (os.Getenv in main; a map in tests).
	Getenv func(string) string
}

// OSEnv returns the Env of the running process.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// command is one subcommand: its one-line summary and its body.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands lists every subcommand. Keep it sorted by name.
func commands() map[string]command {
	return map[string]command{
		"bench":    {"measure prompt processing and generation speed (like llama-bench)", runBench},
		"chat":     {"chat with a model in the terminal, or send one --message", runChat},
		"dev":      {"developer tools: dev synth writes random-weight benchmark models", runDev},
		"eval":     {"print the top logits of every prompt position as JSON", runEval},
		"export":   {"export conversations as Markdown, JSON, HTML or text", runExport},
		"generate": {"continue a prompt (greedy at --temp 0)", runGenerate},
		"history":  {"list, search and delete saved conversations", runHistory},
		"import":   {"import a conversation exported as JSON", runImport},
		"info":     {"describe a GGUF model file", runInfo},
		"login":    {"store a Hugging Face access token for gated models", runLogin},
		"logout":   {"remove the stored access token", runLogout},
		"models":   {"list the catalog and local models with what fits this machine", runModels},
		"persona":  {"add, list, remove, export, import and restore personas", runPersona},
		"pull":     {"download a model (resumable, verified)", runPull},
		"remote":   {"add, list and remove remote OpenAI-compatible servers, whose models chat can use", runRemote},
		"rm":       {"delete a local model", runRm},
		"run":      {"chat with a model by name, downloading it first when needed", runRun},
		"serve":    {"serve the models over an OpenAI- and Ollama-compatible HTTP API", runServe},
		"tokenize": {"print the token ids of a text", runTokenize},
		"version":  {"print the version", runVersion},
	}
}

// handlesInterrupt reports whether a command handles Ctrl-C itself (the
// terminal chat stops a reply with it); for the others Ctrl-C cancels the
// command's context.
func handlesInterrupt(name string) bool { return name == "chat" || name == "run" }

// errUsage marks errors caused by wrong arguments (exit status 2).
var errUsage = errors.New("usage")

// usageError returns an error that reports wrong arguments.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// IsCommand reports whether name is a known subcommand.
func IsCommand(name string) bool {
	_, ok := commands()[name]
	return ok || name == "help" || name == "-h" || name == "--help" || name == "--version" || name == "-version" || name == "-v"
}

// runVersion implements `llamadesk version` (and --version).
func runVersion(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "version")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, app.VersionLine())
	return nil
}

// Run executes the command named by args[0] and returns the process exit status.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.Stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "llamadesk: unknown command %q\n\n", args[0])
		printUsage(env.Stderr)
		return 2
	}
	if !handlesInterrupt(args[0]) {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
	}
	if err := cmd.run(ctx, env, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(env.Stderr, "llamadesk %s: %s\n", args[0], terminalSafeLines(err.Error()))
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Llamadesk: chat with Llama 2 models on your own computer.")
	fmt.Fprintln(w, "\nUsage:\n  llamadesk              open the window\n  llamadesk <command> [flags]\n\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'llamadesk <command> -h' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("llamadesk "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// looksLikeModelFile reports whether arg names a GGUF file, by its name or
// because it is a file, rather than a word typed in the wrong place.
func looksLikeModelFile(arg string) bool {
	if strings.HasSuffix(strings.ToLower(arg), ".gguf") {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.Mode().IsRegular()
}

// parseFlags parses args, allowing flags before and after positional
// arguments, and refuses more than the allowed number of positional ones.
func parseFlags(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			rest = append(rest, args[1:]...)
			break
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
	if extra := rest[min(positional, len(rest)):]; len(extra) > 0 {
		if m := fs.Lookup("model"); m != nil && m.Value.String() == "" && len(extra) == 1 && looksLikeModelFile(extra[0]) {
			// `llamadesk info FILE`, as `ollama show MODEL` would be typed.
			return nil, usageError("unexpected argument %s: name the model with --model %s", extra[0], extra[0])
		}
		return nil, usageError("unexpected arguments: %s", strings.Join(extra, " "))
	}
	return rest, nil
}

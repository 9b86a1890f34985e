package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
	"github.com/llamadesk/llamadesk/internal/inputfile"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// withHistory opens the App and its history database for one command and
// closes both afterwards.
func withHistory(env *Env, fn func(a *app.App, s *history.Store) error) error {
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := a.History()
	if err != nil {
		var ce *history.CorruptError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w\nto start a new, empty history (the damaged file is moved aside), run: llamadesk history start-fresh", err)
		}
		return err
	}
	return fn(a, s)
}

// subcommand is one verb of a command such as "persona" or "history".
type subcommand struct {
	usage string // arguments, for the help text
	run   func(ctx context.Context, env *Env, args []string) error
}

// runSubcommand dispatches args[0] among subs.
func runSubcommand(ctx context.Context, env *Env, name string, subs map[string]subcommand, order []string, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := env.Stderr
		if len(args) > 0 {
			w = env.Stdout
		}
		fmt.Fprintf(w, "Usage:\n")
		for _, n := range order {
			fmt.Fprintf(w, "  llamadesk %s %s %s\n", name, n, subs[n].usage)
		}
		if len(args) == 0 {
			return usageError("%s needs a subcommand: %s", name, strings.Join(order, ", "))
		}
		return flag.ErrHelp
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usageError("unknown %s subcommand %q (want %s)", name, args[0], strings.Join(order, ", "))
	}
	return sub.run(ctx, env, args[1:])
}

// optionalFloat is a flag.Value that records whether it was given.
type optionalFloat struct{ p **float64 }

func (f optionalFloat) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatFloat(**f.p, 'g', -1, 64)
}

func (f optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	*f.p = &v
	return nil
}

// optionalInt is a flag.Value that records whether it was given.
type optionalInt struct{ p **int }

func (f optionalInt) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.Itoa(**f.p)
}

func (f optionalInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*f.p = &v
	return nil
}

// optionalInt64 is a flag.Value that records whether it was given.
type optionalInt64 struct{ p **int64 }

func (f optionalInt64) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatInt(**f.p, 10)
}

func (f optionalInt64) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*f.p = &v
	return nil
}

// stringList is a repeatable string flag.
type stringList struct{ p *[]string }

func (f stringList) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ", ")
}

func (f stringList) Set(s string) error {
	*f.p = append(*f.p, s)
	return nil
}

// registerSampling adds the sampling flags, filling s with those given.
func registerSampling(fs *flag.FlagSet, s *history.Sampling) {
	fs.Var(optionalFloat{&s.Temperature}, "temp", "sampling temperature `T` (0: greedy)")
	fs.Var(optionalInt{&s.TopK}, "top-k", "keep the `K` most likely tokens (0: all)")
	fs.Var(optionalFloat{&s.TopP}, "top-p", "nucleus sampling mass `P` (0 to 1)")
	fs.Var(optionalFloat{&s.MinP}, "min-p", "drop tokens below `P` times the best token's probability")
	fs.Var(optionalFloat{&s.RepeatPenalty}, "repeat-penalty", "repeat penalty `R` (1: off)")
	fs.Var(optionalInt{&s.RepeatLastN}, "repeat-last-n", "tokens the penalties look back over (`N`; -1: all)")
	fs.Var(optionalFloat{&s.PresencePenalty}, "presence-penalty", "presence penalty `P` (-2 to 2)")
	fs.Var(optionalFloat{&s.FrequencyPenalty}, "frequency-penalty", "frequency penalty `P` (-2 to 2)")
	fs.Var(optionalInt{&s.MaxTokens}, "max-tokens", "longest reply in tokens (`N`)")
	fs.Var(optionalInt64{&s.Seed}, "seed", "random seed `S`")
	fs.Var(stringList{&s.Stop}, "stop", "stop `string` (repeat for several)")
}

// --- persona ---

var personaOrder = []string{"add", "list", "rm", "export", "import", "restore"}

func personaSubcommands() map[string]subcommand {
	return map[string]subcommand{
		"add":     {"--name NAME --system TEXT [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--max-tokens N] [--model M] [--replace]", runPersonaAdd},
		"list":    {"[--json]", runPersonaList},
		"rm":      {"NAME", runPersonaRm},
		"export":  {"[NAME...] --out FILE (no NAME: every persona)", runPersonaExport},
		"import":  {"FILE [--replace] [--json]", runPersonaImport},
		"restore": {"(bring back the built-in personas as shipped)", runPersonaRestore},
	}
}

func runPersona(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "persona", personaSubcommands(), personaOrder, args)
}

func runPersonaAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona add")
	var p history.Persona
	fs.StringVar(&p.Name, "name", "", "persona `name` (required)")
	fs.StringVar(&p.SystemPrompt, "system", "", "system prompt `text`")
	fs.StringVar(&p.Model, "model", "", "preferred model `file` or id")
	replace := fs.Bool("replace", false, "overwrite a persona of the same name")
	registerSampling(fs, &p.Sampling)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if p.Name == "" {
		return usageError("--name is required")
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		var err error
		if _, getErr := s.Persona(ctx, p.Name); *replace && getErr == nil {
			err = s.UpdatePersona(ctx, p.Name, p)
		} else {
			err = s.CreatePersona(ctx, p)
		}
		if errors.Is(err, history.ErrExists) {
			return fmt.Errorf("%w (use --replace to overwrite it)", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "saved persona %q\n", p.Name)
		return nil
	})
}

func runPersonaList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		ps, err := s.Personas(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			if ps == nil {
				ps = []history.Persona{}
			}
			return writeJSON(env.Stdout, ps)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMODEL\tSAMPLING\tSYSTEM PROMPT")
		for _, p := range ps {
			name := p.Name
			if p.Builtin {
				name += " (built-in)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", terminalSafe(name), orDash(terminalSafe(p.Model)), orDash(terminalSafe(p.Sampling.String())), orDash(oneLine(p.SystemPrompt, 50)))
		}
		return tw.Flush()
	})
}

// orDash returns s, or "-" for an empty s.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runPersonaRm(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona rm")
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("persona rm needs a persona NAME")
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		if err := s.DeletePersona(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "removed persona %q\n", rest[0])
		return nil
	})
}

func runPersonaExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona export")
	out := fs.String("out", "", "output `file` (- for standard output; required)")
	names, err := parseFlags(fs, args, 1<<20)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError("--out is required")
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		data, err := s.ExportPersonas(ctx, names...)
		if err != nil {
			return err
		}
		if *out == "-" {
			_, err := env.Stdout.Write(data)
			return err
		}
		if err := atomicfile.WriteOutput(*out, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", *out)
		return nil
	})
}

func runPersonaImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona import")
	replace := fs.Bool("replace", false, "overwrite personas of the same names")
	asJSON := fs.Bool("json", false, "print the imported personas as JSON")
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("persona import needs a FILE (- for standard input)")
	}
	data, err := readInput(env, rest[0], history.MaxPersonaFileBytes)
	if err != nil {
		return err
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		ps, err := s.ImportPersonas(ctx, data, *replace)
		if errors.Is(err, history.ErrExists) {
			return fmt.Errorf("%w (use --replace to overwrite)", err)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rest[0], err)
		}
		if *asJSON {
			return writeJSON(env.Stdout, ps)
		}
		for _, p := range ps {
			fmt.Fprintf(env.Stdout, "imported persona %q\n", p.Name)
		}
		return nil
	})
}

func runPersonaRestore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "persona restore")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		if err := s.RestoreBuiltinPersonas(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "restored the built-in personas")
		return nil
	})
}

// readInput reads a file named on the command line, or standard input for
// "-", refusing at once what is not a regular file (a pipe or device named
// as a path) and stopping as soon as more than limit bytes arrive.
func readInput(env *Env, path string, limit int64) ([]byte, error) {
	if path == "-" {
		data, err := inputfile.ReadAll(env.Stdin, limit)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	return inputfile.ReadFile(path, limit)
}

// --- history ---

var historyOrder = []string{"list", "search", "rm", "start-fresh"}

func historySubcommands() map[string]subcommand {
	return map[string]subcommand{
		"list":        {"[--json]", runHistoryList},
		"search":      {"QUERY [--limit N] [--json]", runHistorySearch},
		"rm":          {"ID", runHistoryRm},
		"start-fresh": {"[--force] (move a damaged history database aside and start an empty one; --force: even a healthy one)", runHistoryStartFresh},
	}
}

func runHistory(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "history", historySubcommands(), historyOrder, args)
}

// conversationJSON is one conversation in `history list --json`. It
// carries its id twice: as "id" and, like search hits and the import and
// chat commands, as "conversation_id".
type conversationJSON struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Title          string    `json:"title"`
	Persona        string    `json:"persona"`
	Model          string    `json:"model"`
	Pinned         bool      `json:"pinned"`
	MessageCount   int       `json:"message_count"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func runHistoryList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "history list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		convs, err := s.Conversations(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]conversationJSON, 0, len(convs))
			for _, c := range convs {
				out = append(out, conversationJSON{ID: c.ID, ConversationID: c.ID, Title: c.Title, Persona: c.Persona,
					Model: c.Model, Pinned: c.Pinned, MessageCount: c.MessageCount, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
			}
			return writeJSON(env.Stdout, out)
		}
		if len(convs) == 0 {
			fmt.Fprintln(env.Stdout, "no conversations yet")
			return nil
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUPDATED\tMESSAGES\tTITLE (* pinned)")
		for _, c := range convs {
			title := oneLine(c.Title, 60)
			if c.Pinned {
				title = "* " + title
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", terminalSafe(c.ID), c.UpdatedAt.Local().Format("2006-01-02 15:04"), c.MessageCount, orDash(title))
		}
		return tw.Flush()
	})
}

func runHistorySearch(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "history search")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 50, "at most `N` hits")
	rest, err := parseFlags(fs, args, 1<<20)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError("history search needs a QUERY")
	}
	query := strings.Join(rest, " ")
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		hits, err := s.Search(ctx, query, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			if hits == nil {
				hits = []history.Hit{}
			}
			return writeJSON(env.Stdout, hits)
		}
		if len(hits) == 0 {
			fmt.Fprintln(env.Stdout, "no matches")
			return nil
		}
		for _, h := range hits {
			where := "title"
			if h.MessageID != 0 {
				where = string(h.Role)
			}
			fmt.Fprintf(env.Stdout, "%s  %s  (%s)\n    %s\n", terminalSafe(h.ConversationID), oneLine(h.Title, 60), terminalSafe(where), oneLine(h.Snippet, 120))
		}
		return nil
	})
}

func runHistoryRm(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "history rm")
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("history rm needs a conversation ID")
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		if err := s.DeleteConversation(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deleted conversation %s\n", rest[0])
		return nil
	})
}

func runHistoryStartFresh(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "history start-fresh")
	force := fs.Bool("force", false, "set the history aside even when it is not damaged")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	start := a.StartFreshHistory
	if *force {
		start = a.ForceFreshHistory
	}
	moved, err := start()
	if errors.Is(err, history.ErrHealthy) {
		return fmt.Errorf("%w: nothing was moved (use --force to set a healthy history aside and start an empty one)", history.ErrHealthy)
	}
	if err != nil {
		return err
	}
	if moved == "" {
		fmt.Fprintf(env.Stdout, "started a new history at %s\n", a.HistoryPath())
	} else {
		fmt.Fprintf(env.Stdout, "moved the old history to %s and started a new one at %s\n", moved, a.HistoryPath())
	}
	return nil
}

// --- export and import ---

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "export")
	id := fs.String("conversation", "", "conversation `ID` to export")
	all := fs.Bool("all", false, "export every conversation, one file each, into the --out folder")
	formatName := fs.String("format", "", "`format`: md, json, html or txt (default: from the --out extension)")
	out := fs.String("out", "", "output `file`, or folder with --all (- for standard output: with --all every conversation, one after another; required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *all == (*id != ""):
		return usageError("give either --conversation ID or --all")
	case *out == "":
		return usageError("--out is required")
	case *all && *formatName == "":
		return usageError("--format is required with --all")
	}
	name := *formatName
	if name == "" {
		name = filepath.Ext(*out)
		if name == "" {
			return usageError("--format is required (md, json, html or txt)")
		}
	}
	format, err := history.ParseFormat(name)
	if err != nil {
		return usageError("%v", err)
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		if *all && *out == "-" {
			return s.ExportStream(ctx, env.Stdout, format)
		}
		if *all {
			paths, err := s.ExportAll(ctx, *out, format)
			if err != nil {
				return err
			}
			for _, p := range paths {
				fmt.Fprintln(env.Stdout, p)
			}
			return nil
		}
		if *out == "-" {
			return s.Export(ctx, env.Stdout, *id, format)
		}
		if err := s.ExportFile(ctx, *out, *id, format); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, *out)
		return nil
	})
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import")
	asJSON := fs.Bool("json", false, `print {"conversation_id": "..."}`)
	rest, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("import needs a FILE (a conversation exported as JSON; - for standard input)")
	}
	data, err := readInput(env, rest[0], history.MaxImportBytes)
	if err != nil {
		return err
	}
	return withHistory(env, func(_ *app.App, s *history.Store) error {
		id, err := s.Import(ctx, bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("import %s: %w", rest[0], err)
		}
		if *asJSON {
			return writeJSON(env.Stdout, map[string]string{"conversation_id": id})
		}
		fmt.Fprintf(env.Stdout, "imported conversation %s\n", id)
		return nil
	})
}

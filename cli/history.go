package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

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

package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

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
		if *out == "-" {
			data, err := s.ExportPersonas(ctx, names...)
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(data)
			return err
		}
		if err := s.ExportPersonasFile(ctx, *out, names...); err != nil {
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

package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// What several commands share: subcommand dispatch, flag values that
// record whether they were given, the sampling flags, and reading the
// files (inputs, API keys) named on the command line.

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

// String implements flag.Value ("" when not given).
func (f optionalFloat) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatFloat(**f.p, 'g', -1, 64)
}

// Set implements flag.Value.
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

// String implements flag.Value ("" when not given).
func (f optionalInt) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.Itoa(**f.p)
}

// Set implements flag.Value.
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

// String implements flag.Value ("" when not given).
func (f optionalInt64) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatInt(**f.p, 10)
}

// Set implements flag.Value.
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

// String implements flag.Value.
func (f stringList) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ", ")
}

// Set implements flag.Value: each use adds a string.
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

// readKeyFile reads the API key in the file named by a flag (none when
// path is ""), printing app.ReadKeyFile's warning about the file, if any.
func readKeyFile(env *Env, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	key, warning, err := app.ReadKeyFile(path)
	if err != nil {
		return "", err
	}
	if warning != "" {
		fmt.Fprintln(env.Stderr, "Warning:", warning)
	}
	return key, nil
}

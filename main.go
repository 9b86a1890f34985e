// Command llamadesk is the Llamadesk desktop application. Without arguments it
// opens the window; `llamadesk <command>` runs a headless command.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/cli"
	_ "github.com/llamadesk/llamadesk/internal/plainlocale" // before Fyne's locale lookup
	"github.com/llamadesk/llamadesk/ui"
)

func main() {
	if len(os.Args) == 1 {
		os.Exit(runWindow())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	code := cli.Run(ctx, cli.OSEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

// runWindow opens the window and returns the exit status once it closes.
func runWindow() int {
	a, err := app.Open(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "llamadesk:", err)
		return 1
	}
	if err := ui.Run(a); err != nil {
		fmt.Fprintln(os.Stderr, "llamadesk:", err)
		return 1
	}
	return 0
}

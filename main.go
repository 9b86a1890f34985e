// Command llamadesk is the Llamadesk desktop application. Without arguments it
// opens the window; `llamadesk <command>` runs a headless command. On Windows
// the same program is linked twice: llamadesk.exe, a console program for the
// command line, and llamadesk-app.exe (GUI subsystem, no console) that opens
// the window and shows its errors in a message box.
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
	if windowOnly() {
		showError("llamadesk-app.exe opens the window and takes no arguments: run commands with llamadesk.exe, in a terminal.")
		os.Exit(2)
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
		return windowFailed(err)
	}
	if err := ui.Run(a); err != nil {
		return windowFailed(err)
	}
	return 0
}

// windowFailed reports why the window could not open (in a message box too
// where there is no console) and returns the exit status.
func windowFailed(err error) int {
	fmt.Fprintln(os.Stderr, "llamadesk:", err)
	if windowOnly() {
		showError("Llamadesk could not open: " + err.Error())
	}
	return 1
}

// Command llamadesk is the Llamadesk desktop application. Without arguments it
// opens the window; `llamadesk <command>` runs a headless command.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/llamadesk/llamadesk/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(cli.Run(ctx, cli.OSEnv(), os.Args[1:]))
}

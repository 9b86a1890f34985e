// Command llamadesk is the Llamadesk desktop application. Without arguments it
// opens the window; `llamadesk <command>` runs a headless command.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/llamadesk/llamadesk/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	code := cli.Run(ctx, cli.OSEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

package cli

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"gif/internal/daemon"
)

// daemonMain is `gif daemon`: the namespace's daemon in the foreground, as
// systemd runs it.
func daemonMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gif daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	debug := fs.Bool("d", false, "log every dropped packet and failed send (debug)")
	metricsAddr := fs.String("m", "", "serve Prometheus metrics at `address:port`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, log, daemon.Options{MetricsAddr: *metricsAddr}); err != nil {
		return fail(stderr, "daemon", err)
	}
	return 0
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"gif/internal/control"
	"gif/internal/state"
)

// callTimeout bounds one request to the daemon, including starting it.
const callTimeout = 30 * time.Second

// A daemon that is being killed may still hold its socket for a moment
// after it stopped answering; the client then waits for it to go.
const (
	dyingRetries = 20
	dyingPause   = 50 * time.Millisecond
)

// call sends one request to this namespace's daemon, starting the daemon
// first when none runs, and prints the daemon's warnings.
func call(stderr io.Writer, method string, params, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	name := control.SocketName()
	var warnings []string
	var err error
	for attempt := 0; ; attempt++ {
		warnings, err = control.Call(ctx, name, method, params, result)
		if errors.Is(err, control.ErrNoDaemon) {
			if err := startDaemon(ctx, stderr); err != nil {
				return err
			}
			warnings, err = control.Call(ctx, name, method, params, result)
		}
		if attempt < dyingRetries && daemonDying(err) {
			time.Sleep(dyingPause)
			continue
		}
		break
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "gif: %s\n", w)
	}
	return err
}

// daemonDying reports whether err says the daemon hung up without an
// answer, as one does while it is being killed.
func daemonDying(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

func startDaemon(ctx context.Context, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	dir, err := state.Dir()
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	ns, _ := state.NamespaceID()
	logPath := filepath.Join(dir, "daemon.log")
	pid, err := control.StartDaemon(ctx, exe, []string{"daemon"}, logPath)
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	fmt.Fprintf(stderr, "gif: started the gif daemon for network namespace %s (pid %d, log %s)\n", ns, pid, logPath)
	return nil
}

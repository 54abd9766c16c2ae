package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startTimeout bounds how long StartDaemon waits for a new daemon to answer.
const startTimeout = 5 * time.Second

// logTailLines is how many lines of the daemon's log a failed start shows.
const logTailLines = 10

// StartDaemon starts exe with args as a detached daemon: in a session of its
// own, working directory /, stdin /dev/null, stdout and stderr appended to
// logPath (created 0600 in a directory created 0700). The daemon inherits the
// environment, so it listens on SocketName(). StartDaemon waits until a
// daemon answers a ping there, at most 5 s and while ctx lasts, and returns
// that daemon's pid. If the new daemon exits first or does not answer, it
// is killed and the error shows what it wrote to the log. If a process that
// is not root holds the name, the new daemon is killed at once and the
// error wraps an *ImpostorError.
func StartDaemon(ctx context.Context, exe string, args []string, logPath string) (pid int, err error) {
	addr, err := abstractAddr(SocketName())
	if err != nil {
		return 0, fmt.Errorf("start gif daemon: %w", err)
	}
	// Resolved before the working directory changes to /.
	path, err := exec.LookPath(exe)
	if err != nil {
		return 0, fmt.Errorf("start gif daemon: %w", err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return 0, fmt.Errorf("start gif daemon: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return 0, fmt.Errorf("create daemon log directory: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open daemon log: %w", err)
	}
	defer logFile.Close()
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("open daemon log: %w", err)
	}

	cmd := exec.Command(path, args...)
	cmd.Dir = "/"
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := detach(cmd); err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start gif daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	wait, cancel := context.WithTimeoutCause(ctx, startTimeout, fmt.Errorf("no answer within %v", startTimeout))
	defer cancel()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		var pong PingResult
		_, err := Call(wait, addr, MethodPing, nil, &pong)
		if err == nil {
			return pong.PID, nil
		}
		// The name was free a moment ago; the new daemon cannot take it
		// from whoever took it since, however long it waits.
		if impostor := (*ImpostorError)(nil); errors.As(err, &impostor) {
			cmd.Process.Kill()
			<-exited
			return 0, fmt.Errorf("gif daemon (pid %d) cannot serve: %w; killed it", cmd.Process.Pid, err)
		}
		select {
		case err := <-exited:
			status := "exit status 0"
			if err != nil {
				status = err.Error()
			}
			return 0, fmt.Errorf("gif daemon (pid %d) exited before answering on %s: %s%s",
				cmd.Process.Pid, addr, status, logTail(logPath, logStart))
		case <-wait.Done():
			cmd.Process.Kill()
			<-exited
			return 0, fmt.Errorf("gif daemon (pid %d) did not answer on %s: %v; killed it%s",
				cmd.Process.Pid, addr, context.Cause(wait), logTail(logPath, logStart))
		case <-poll.C:
		}
	}
}

// logTail returns, for an error message, the last lines written to the log
// at path after offset from.
func logTail(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("; read its log: %v", err)
	}
	defer f.Close()
	// A few kilobytes hold the last lines; the log may be long.
	if info, err := f.Stat(); err == nil {
		from = max(from, info.Size()-4096)
	}
	written, err := io.ReadAll(io.NewSectionReader(f, from, 4096))
	if err != nil {
		return fmt.Sprintf("; read its log %s: %v", path, err)
	}
	lines := strings.Split(string(bytes.TrimSpace(written)), "\n")
	if lines[0] == "" {
		return fmt.Sprintf("; it wrote nothing to %s", path)
	}
	lines = lines[max(0, len(lines)-logTailLines):]
	return fmt.Sprintf("; last lines of %s:\n\t%s", path, strings.Join(lines, "\n\t"))
}

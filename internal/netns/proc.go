package netns

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 3 * time.Second

// Proc is a process running in the background inside a host. Its standard
// output and standard error go to one buffer.
type Proc struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{} // closed once the process has exited and waitErr is set

	waitErr error
}

// Start starts the command name inside h. The process leads its own process
// group: signals from Stop reach its children too, and a terminal's ^C does
// not, so the lab decides the order of shutdown. Close kills it if it is
// still running.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	// Stop and Kill9 end it, not a context.
	cmd, err := h.command(context.Background(), name, args)
	if err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Do not wait forever for output from a grandchild that left the group.
	p.cmd.WaitDelay = time.Second
	if err := h.lab.addProc(p); err != nil {
		return nil, fmt.Errorf("start %s: %w", p, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// addProc starts p under the lock, so that Close either sees it or refuses
// it.
func (l *Lab) addProc(p *Proc) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	l.procs = append(l.procs, p)
	return nil
}

func (p *Proc) String() string { return commandLine(p.cmd.Args) }

// Output returns what the process has written so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitFor waits until the output of the process contains s, such as a
// server's "listening" line. It fails if the process exits first.
func (p *Proc) WaitFor(ctx context.Context, s string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(p.Output(), s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %q from %s: %w; output: %s", s, p, ctx.Err(), p.Output())
		case <-p.done:
			if strings.Contains(p.Output(), s) {
				return nil
			}
			return fmt.Errorf("wait for %q from %s: exited (%v); output: %s", s, p, p.waitErr, p.Output())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM to the process group and waits for the process to
// exit. If it is still running after a grace period, Stop kills it and says
// so. A process that dies of the SIGTERM is not an error; one that exited
// by itself with a failure is.
func (p *Proc) Stop() error { return p.stop(syscall.SIGTERM) }

// Kill9 sends SIGKILL to the process group and waits for the process to
// exit, as a crash would end it.
func (p *Proc) Kill9() error {
	p.signal(syscall.SIGKILL)
	<-p.done
	return p.exitErr(syscall.SIGKILL)
}

func (p *Proc) stop(sig syscall.Signal) error {
	p.signal(sig)
	select {
	case <-p.done:
		return p.exitErr(sig)
	case <-time.After(stopGrace):
	}
	p.Kill9()
	return fmt.Errorf("%s: still running %v after signal %q, killed", p, stopGrace, sig)
}

// signal signals the process group unless the process is gone: once it is
// reaped, its id may be reused.
func (p *Proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// exitErr returns how the process ended, unless it ended by exiting cleanly
// or by the signal sig.
func (p *Proc) exitErr(sig syscall.Signal) error {
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == sig {
			return nil
		}
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w; output: %s", p, p.waitErr, p.Output())
	}
	return nil
}

// lockedBuffer collects the output of a process while others read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

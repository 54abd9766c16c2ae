package link

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readWaiter waits, through the Go poller, until a device's fd has
// something to read. The poller reports edges, so it first asks the kernel
// (poll(2) with no timeout) whether something is queued already, and waits
// for the poller only when not.
type readWaiter struct {
	conn   syscall.RawConn
	asked  bool
	fds    [1]unix.PollFd
	readyF func(fd uintptr) bool // w.ready, made once: a method value made at each call would allocate
}

func newReadWaiter(conn syscall.RawConn) *readWaiter {
	w := &readWaiter{conn: conn}
	w.readyF = w.ready
	return w
}

// wait blocks until the fd is readable or closed; only one goroutine may
// wait at a time.
func (w *readWaiter) wait(name string) error {
	w.asked = false
	if err := w.conn.Read(w.readyF); err != nil {
		// With no deadline set, RawConn.Read fails only when the file is
		// closing, with an error of package poll ("use of closed file")
		// that is not os.ErrClosed.
		return fmt.Errorf("wait for %s: %w (%v)", name, os.ErrClosed, err)
	}
	return nil
}

// ready is called by RawConn.Read: first to ask, then again once the poller
// saw the fd become readable.
func (w *readWaiter) ready(fd uintptr) bool {
	if w.asked {
		return true
	}
	w.asked = true
	w.fds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	n, err := unix.Poll(w.fds[:], 0)
	return err == nil && n > 0
}

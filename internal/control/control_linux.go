package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen listens on the abstract Unix socket name in the calling thread's
// network namespace. If the name is taken the error wraps ErrDaemonRunning.
func Listen(name string) (net.Listener, error) {
	addr, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: %w", addr, ErrDaemonRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	return l, nil
}

// dial connects to the abstract Unix socket name. An abstract name nobody
// listens on gives ECONNREFUSED, never ENOENT.
func dial(ctx context.Context, name string) (net.Conn, error) {
	addr, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("connect to %s: %w", addr, ErrNoDaemon)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to gif daemon: %w", err)
	}
	return conn, nil
}

// peerUID returns the uid of the process at the other end of conn, as the
// kernel recorded it at connect(2).
func peerUID(conn net.Conn) (uint32, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%T is not a Unix socket connection", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("getsockopt SO_PEERCRED: %w", credErr)
	}
	return cred.Uid, nil
}

// detach makes cmd start in a session of its own, so it outlives the
// terminal and the process group of its starter.
func detach(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return nil
}

package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen listens on the abstract Unix socket name in the calling thread's
// network namespace. If a root process answers on the name the error wraps
// ErrDaemonRunning and names its pid; if a process that is not root holds
// it, the error wraps an *ImpostorError.
func Listen(name string) (net.Listener, error) {
	addr, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, nameTaken(addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	return l, nil
}

// nameTaken says who holds addr, which Listen could not bind.
func nameTaken(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	conn, err := dial(ctx, addr)
	var impostor *ImpostorError
	switch {
	case errors.As(err, &impostor):
		return fmt.Errorf("%w: end that process, then start the daemon again", err)
	case err != nil:
		return fmt.Errorf("listen on %s: the name is taken, and asking its holder failed: %w", addr, err)
	}
	defer conn.Close()
	holder, err := peerCred(conn)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (its pid is unknown: %v)", addr, ErrDaemonRunning, err)
	}
	return fmt.Errorf("listen on %s: %w: pid %d", addr, ErrDaemonRunning, holder.pid)
}

// dial connects to the abstract Unix socket name and returns the connection
// only if root holds the name: nothing has been written to it yet. An
// abstract name nobody listens on gives ECONNREFUSED, never ENOENT.
func dial(ctx context.Context, name string) (net.Conn, error) {
	addr, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPROTOTYPE) {
		// Bound without listening, or by a socket of another type: no
		// answer, but the name is not free for a daemon either.
		if holder, ok := boundBy(addr); ok && holder.uid != 0 {
			return nil, impostor(addr, holder)
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("connect to %s: %w", addr, ErrNoDaemon)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to gif daemon: %w", err)
	}
	holder, err := peerCred(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to %s: read the server's credentials: %w", addr, err)
	}
	if holder.uid != 0 {
		conn.Close()
		return nil, impostor(addr, holder)
	}
	return conn, nil
}

func impostor(addr string, holder peer) *ImpostorError {
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", holder.pid))
	return &ImpostorError{Addr: addr, PID: holder.pid, UID: holder.uid, Comm: strings.TrimSpace(string(comm))}
}

// peerCred returns the process at the other end of conn.
func peerCred(conn net.Conn) (peer, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return peer{}, fmt.Errorf("%T is not a Unix socket connection", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, err
	}
	if credErr != nil {
		return peer{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", credErr)
	}
	return peer{pid: cred.Pid, uid: cred.Uid}, nil
}

// boundBy finds the process that holds addr when connect(2) cannot ask it
// (it bound the name without listening): the socket's inode from this
// thread's namespace's /proc/net/unix, then a process with a descriptor on
// it. Best effort: false when either is not found.
func boundBy(addr string) (peer, bool) {
	f, err := os.Open("/proc/thread-self/net/unix")
	if err != nil {
		return peer{}, false
	}
	defer f.Close()
	// Num RefCount Protocol Flags Type St Inode Path
	var inode string
	for s := bufio.NewScanner(f); s.Scan(); {
		fields := strings.Fields(s.Text())
		if len(fields) >= 8 && strings.Join(fields[7:], " ") == addr {
			inode = fields[6]
			break
		}
	}
	if inode == "" {
		return peer{}, false
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err != nil || target != "socket:["+inode+"]" {
			continue
		}
		procDir := filepath.Dir(filepath.Dir(fd))
		pid, err := strconv.Atoi(filepath.Base(procDir))
		info, statErr := os.Stat(procDir)
		if err != nil || statErr != nil {
			continue
		}
		return peer{pid: int32(pid), uid: info.Sys().(*syscall.Stat_t).Uid}, true
	}
	return peer{}, false
}

// detach makes cmd start in a session of its own, so it outlives the
// terminal and the process group of its starter.
func detach(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return nil
}

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// namespaceSources are the files NamespaceID compares; tests replace them.
type namespaceSources struct {
	self  string // the calling thread's network namespace
	init  string // the network namespace of PID 1
	named string // the directory of ip netns' named namespaces
}

// The calling thread's namespace rather than /proc/self's: a Go program may
// have moved one locked thread into another namespace.
var hostNamespaces = namespaceSources{
	self:  "/proc/thread-self/ns/net",
	init:  "/proc/1/ns/net",
	named: "/run/netns",
}

// NamespaceID names the current network namespace for state paths and
// logs: its name under /run/netns (as ip netns names it; the first in
// lexical order if it has several), else "default" when it is the
// namespace of PID 1, else "netns-<inode>" (also when PID 1's namespace
// cannot be read).
func NamespaceID() (string, error) {
	return hostNamespaces.id()
}

func (s namespaceSources) id() (string, error) {
	self, err := os.Stat(s.self)
	if err != nil {
		return "", fmt.Errorf("identify network namespace: %w", err)
	}
	named, err := os.ReadDir(s.named)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("identify network namespace: %w", err)
	}
	for _, entry := range named {
		// An entry whose namespace is gone is a plain empty file: no match.
		if info, err := os.Stat(filepath.Join(s.named, entry.Name())); err == nil && os.SameFile(self, info) {
			return entry.Name(), nil
		}
	}
	// Some sandboxes hide PID 1 even from root; its namespace is then
	// unknown and ours is named by its inode.
	init, err := os.Stat(s.init)
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		return "", fmt.Errorf("identify network namespace: %w", err)
	}
	if err == nil && os.SameFile(self, init) {
		return "default", nil
	}
	return "netns-" + strconv.FormatUint(self.Sys().(*syscall.Stat_t).Ino, 10), nil
}

// bootIDFile holds a random identifier the kernel draws at each boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// CurrentOwner names the calling thread's network namespace in this boot
// (SO_NETNS_COOKIE: Linux 5.14 or later).
func CurrentOwner() (Owner, error) {
	boot, err := os.ReadFile(bootIDFile)
	if err != nil {
		return Owner{}, fmt.Errorf("identify this boot: %w", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Owner{}, fmt.Errorf("identify network namespace: %w", err)
	}
	defer unix.Close(fd)
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return Owner{}, fmt.Errorf("identify network namespace: SO_NETNS_COOKIE: %w", err)
	}
	return Owner{Boot: strings.TrimSpace(string(boot)), Cookie: cookie}, nil
}

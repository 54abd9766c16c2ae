//go:build !linux

package control

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
)

var errUnsupported = fmt.Errorf("gif control socket: not supported on %s", runtime.GOOS)

// Listen is not supported: abstract Unix sockets are Linux only.
func Listen(name string) (net.Listener, error) { return nil, errUnsupported }

func dial(ctx context.Context, name string) (net.Conn, error) { return nil, errUnsupported }

func peerCred(conn net.Conn) (peer, error) { return peer{}, errUnsupported }

func detach(cmd *exec.Cmd) error { return errUnsupported }

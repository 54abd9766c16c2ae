//go:build !linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
)

// Run is `gif daemon`, which needs Linux's TUN and TAP devices, netlink and
// raw IP sockets.
func Run(ctx context.Context, log *slog.Logger, opts Options) error {
	return fmt.Errorf("gif daemon: not supported on %s", runtime.GOOS)
}

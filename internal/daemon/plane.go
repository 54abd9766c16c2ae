package daemon

import (
	"log/slog"
	"sync/atomic"

	"gif/internal/ipsec"
	"gif/internal/outer"
	"gif/internal/tunnel"
)

// plane is the userspace data plane: the send loops of the interfaces,
// the receive loops of the outer transport, ESP, and the global counters.
// It reads the configuration only from its view, which the daemon
// replaces whole on each change; it never reaches back into the daemon.
type plane struct {
	log     *slog.Logger
	view    atomic.Pointer[view]
	conns   map[transportKey]outer.Conn // set before the interfaces send
	ipip    tunnel.IPIPCounters
	etherip tunnel.EtherIPCounters
	esp     ipsec.SAD // the SAs, and espstat
}

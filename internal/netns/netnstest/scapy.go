package netnstest

import (
	"context"
	"fmt"
	"strings"

	"gif/internal/netns"
	"gif/internal/tools"
)

// scapyPrelude imports scapy, quiets it and runs the script given as the
// first argument, dedented so that it may be indented like the Go around it.
const scapyPrelude = `from scapy.all import *
import sys, textwrap
conf.verb = 0
exec(textwrap.dedent(sys.argv[1]))
`

// Scapy runs a Python script inside h with everything from scapy.all
// imported, for instance to send crafted packets, and returns what it
// printed.
func Scapy(ctx context.Context, h *netns.Host, script string) (string, error) {
	out, err := h.Run(ctx, tools.ScapyPython, "-c", scapyPrelude, script)
	if err != nil && strings.Contains(err.Error(), "No module named 'scapy'") {
		return out, fmt.Errorf("scapy not found for %s: apt-get install python3-scapy: %w", tools.ScapyPython, err)
	}
	return out, err
}

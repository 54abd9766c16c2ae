//go:build !linux

package outer

import (
	"fmt"
	"runtime"
)

// Listen opens a raw socket for IP protocol proto over IPv4 (family 4) or
// IPv6 (family 6). It is implemented only on Linux.
func Listen(family int, proto uint8) (Conn, error) {
	return nil, fmt.Errorf("listen ip%d proto %d: not supported on %s", family, proto, runtime.GOOS)
}

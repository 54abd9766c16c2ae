package daemon

import (
	"fmt"
	"net"
	"os"
)

// notifySystemd tells systemd how the service is doing (sd_notify(3)):
// "READY=1" once the daemon serves, so that a unit of Type=notify runs its
// ExecStartPost (gif netstart) only then, and no command races the daemon's
// start by starting a second one. Outside systemd it does nothing.
func notifySystemd(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd at %s: %w", addr, err)
	}
	return nil
}

package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gif/internal/netns"
)

// demoIPsecConf is the seed's ipsec.conf of each bridge host, as written;
// the key files sit beside it.
var demoIPsecConf = map[string]string{
	"b1": "esp from 1.2.3.4 to 4.3.2.1 spi 0x4242:0x4243 \\\n\tauthkey file \"auth1:auth2\" enckey file \"enc1:enc2\"\nflow esp proto etherip from 1.2.3.4 to 4.3.2.1\n",
	"b2": "esp from 4.3.2.1 to 1.2.3.4 spi 0x4243:0x4242 \\\n\tauthkey file \"auth2:auth1\" enckey file \"enc2:enc1\"\nflow esp proto etherip from 4.3.2.1 to 1.2.3.4\n",
}

// runIPsecDemo protects the demo's bridges with the seed's ipsec.conf
// files, turns net.inet.etherip.allow off, and shows that the LANs still
// reach each other while the wire between the bridges carries only ESP.
func (d *demo) runIPsecDemo(ctx context.Context) error {
	fmt.Fprintf(d.out, "\ngif demo: the bridges protected by the seed's ipsec.conf (keys made like `openssl rand -hex`)\n")
	keys := map[string]int{"auth1": 32, "auth2": 32, "enc1": 16, "enc2": 16} // hmac-sha2-256, aes
	dirs := map[*netns.Host]string{}
	for _, h := range []*netns.Host{d.b1, d.b2} {
		dir, err := os.MkdirTemp("", "gif-demo-ipsec-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dirs[h] = dir
		if err := os.WriteFile(filepath.Join(dir, "ipsec.conf"), []byte(demoIPsecConf[hostName(h)]), 0o600); err != nil {
			return err
		}
	}
	for name, size := range keys {
		key := make([]byte, size)
		rand.Read(key)
		for _, dir := range dirs {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
				return err
			}
		}
	}
	for _, h := range []*netns.Host{d.b1, d.b2} {
		fmt.Fprintf(d.out, "%s# cat ipsec.conf\n%s", hostName(h), demoIPsecConf[hostName(h)])
		if err := d.typed(ctx, h, "sysctl", "net.inet.etherip.allow=0"); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "%s# gif ipsecctl -f ipsec.conf\n", hostName(h))
		script := `cd "$1" && shift && exec "$@"`
		args := append(append([]string{"-c", script, "sh", dirs[h], "env"}, d.env(h)...), "ipsecctl", "-f", "ipsec.conf")
		if _, err := h.Run(ctx, "sh", args...); err != nil {
			return err
		}
	}
	if err := d.pingProtected(ctx, false); err != nil {
		return err
	}
	out, err := d.gif(ctx, d.b1, "netstat", "-s", "-p", "esp")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "%-26s %s\n", "b1 netstat -s -p esp", strings.Join(nonZeroStats(out), "\n"+strings.Repeat(" ", 27)))
	return nil
}

// pingProtected pings h2 from h1 while it captures between the bridges,
// and fails unless every packet there is ESP, or IKE (UDP) when ike is
// true.
func (d *demo) pingProtected(ctx context.Context, ike bool) error {
	capture, err := d.b2.Capture("eth0", "ip")
	if err != nil {
		return err
	}
	pingResult, pingErr := pingAll(ctx, d.h1, demoH2)
	pkts, err := capture.Stop()
	if err != nil {
		return err
	}
	if pingErr != nil {
		return fmt.Errorf("ping h1 -> h2 under IPsec: %w", pingErr)
	}
	esp, udp, other := 0, 0, 0
	for _, p := range pkts {
		switch {
		case len(p.IP) > 0 && p.IP[0].Proto == 50:
			esp++
		case len(p.IP) > 0 && p.IP[0].Proto == 17 && ike:
			udp++
		default:
			other++
		}
	}
	fmt.Fprintf(d.out, "%-26s %s\n", "ping h1 -> h2", pingResult)
	fmt.Fprintf(d.out, "%-26s %d packets, %d ESP, %d IKE\n", "wire between the bridges", esp+udp+other, esp, udp)
	if esp == 0 || other > 0 {
		return fmt.Errorf("the wire between the bridges carried %d packets that are neither ESP nor IKE (and %d ESP)", other, esp)
	}
	return nil
}

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gif/internal/ike/pki"
	"gif/internal/netns"
)

// demoIKEConf is the seed's dynamic keying variant of each bridge's
// ipsec.conf, as written.
var demoIKEConf = map[string]string{
	"b1": "ike esp proto etherip from 1.2.3.4 to 4.3.2.1\n",
	"b2": "ike esp proto etherip from 4.3.2.1 to 1.2.3.4\n",
}

// demoNegotiation bounds how long the demo waits for the bridges' IKE.
const demoNegotiation = 20 * time.Second

// runIKEDemo is the seed's last paragraph: the same bridges keyed
// dynamically with its ike lines, each bridge's RSA key made as OpenBSD's
// rc makes it and its public key given to the other, as isakmpd wants.
func (d *demo) runIKEDemo(ctx context.Context) error {
	fmt.Fprintf(d.out, "\ngif demo: the seed's dynamic keying variant (IKEv1, RSA keys as on OpenBSD)\n")
	addr := map[*netns.Host]string{d.b1: demoB1, d.b2: demoB2}
	for h, other := range map[*netns.Host]*netns.Host{d.b1: d.b2, d.b2: d.b1} {
		if _, _, err := pki.LocalKey(d.ikeDir(h)); err != nil {
			return err
		}
		pub, err := os.ReadFile(pki.LocalPubPath(d.ikeDir(h)))
		if err != nil {
			return err
		}
		dst := filepath.Join(d.ikeDir(other), "pubkeys", "ipv4", addr[h])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, pub, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "%s's local.pub -> %s:.../pubkeys/ipv4/%s\n", hostName(h), hostName(other), addr[h])
	}
	for _, h := range []*netns.Host{d.b1, d.b2} {
		dir, err := os.MkdirTemp("", "gif-demo-ike-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "ipsec.conf")
		if err := os.WriteFile(path, []byte(demoIKEConf[hostName(h)]), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "%s# cat ipsec.conf\n%s%[1]s# gif ipsecctl -f ipsec.conf\n", hostName(h), demoIKEConf[hostName(h)])
		if _, err := d.gif(ctx, h, "ipsecctl", "-f", path); err != nil {
			return err
		}
	}
	// The first packets wait for the negotiation.
	for deadline := time.Now().Add(demoNegotiation); ; {
		res, err := d.h1.Ping(ctx, demoH2, "-c", "1", "-W", "1")
		if err == nil && res.Received == 1 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := d.gif(ctx, d.b1, "ipsecctl", "-s", "ike")
			return fmt.Errorf("no SAs after %v:\n%s", demoNegotiation, out)
		}
	}
	if err := d.pingProtected(ctx, true); err != nil {
		return err
	}
	return d.typed(ctx, d.b1, "ipsecctl", "-s", "ike")
}

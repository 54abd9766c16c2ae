package netnstest

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gif/internal/netns"
	"gif/internal/tools"
)

// Charon is charon running in a host with its own /run (its pid file and
// sockets) and configuration directory, with an IKEv1 connection "gif"
// whose child "etherip" is the EtherIP flow between its address and the
// peer's, with OpenBSD ipsecctl's defaults. Its ESP is kernel-libipsec's,
// in userspace, since this kernel has none; it always claims a NAT, so that
// ESP goes in UDP.
type Charon struct {
	host *netns.Host
	dir  string
	proc *netns.Proc
}

// CharonAuth is how charon authenticates: a pre-shared key, or its RSA key
// and the peer's public key, as raw keys without certificates.
type CharonAuth struct {
	PSK  string
	Key  *rsa.PrivateKey
	Peer *rsa.PublicKey
}

// StartCharon starts charon in h, its files in dir, for the connection
// from local to peer.
func StartCharon(h *netns.Host, dir string, local, peer netip.Addr, auth CharonAuth) (*Charon, error) {
	charon, err := tools.Path(tools.Charon)
	if err != nil {
		return nil, err
	}
	mount, err := tools.Path("mount") // run by the shell that execs charon
	if err != nil {
		return nil, err
	}
	if _, err := tools.Path("swanctl"); err != nil {
		return nil, err // Swanctl needs it: fail before starting charon, not after.
	}
	c := &Charon{host: h, dir: dir}
	conf := fmt.Sprintf(`charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac kdf gcm gmp pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = no
  retransmit_tries = 3
  plugins {
    vici { socket = unix://%[1]s/charon.vici }
    kernel-libipsec { allow_peer_ts = yes }
  }
  filelog {
    lab { path = %[1]s/charon.log
          flush_line = yes
          default = 1
          ike = 2
          chd = 4 }
  }
  syslog { daemon { default = -1 } }
}
`, dir)
	method, ownPub, peerPub := "psk", "", ""
	secrets := fmt.Sprintf(`secrets {
  ike-gif { id-1 = %s
            id-2 = %s
            secret = "%s" }
}
`, local, peer, auth.PSK)
	files := map[string]string{"strongswan.conf": conf}
	if auth.PSK == "" {
		// charon finds public keys by name in pubkey/ beside swanctl.conf.
		method, ownPub, peerPub, secrets = "pubkey", "\n            pubkeys = own.pem", "\n             pubkeys = peer.pem", ""
		var err error
		for name, key := range map[string]any{"private/own.pem": auth.Key, "pubkey/own.pem": &auth.Key.PublicKey, "pubkey/peer.pem": auth.Peer} {
			if files[name], err = pemOf(key); err != nil {
				return nil, err
			}
		}
	}
	files["swanctl.conf"] = fmt.Sprintf(`connections {
  gif {
    version = 1
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes128-sha1-modp3072
    rekey_time = 0
    local { auth = %[4]s
            id = %[1]s%[5]s }
    remote { auth = %[4]s
             id = %[2]s%[6]s }
    children {
      etherip {
        local_ts = %[1]s/32[97]
        remote_ts = %[2]s/32[97]
        mode = tunnel
        esp_proposals = aes128-sha256-modp3072
        start_action = none
      }
    }
  }
}
%[3]s`, local, peer, secrets, method, ownPub, peerPub)
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			return nil, err
		}
	}
	// kernel-libipsec routes the peer into its TUN device; IKE and ESP in
	// UDP must go around it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Run(ctx, "ip", "rule", "add", "pref", "100", "ipproto", "udp", "lookup", "main"); err != nil {
		return nil, err
	}
	if c.proc, err = h.Start("unshare", "-m", "sh", "-c",
		mount+" -t tmpfs charonrun /run && STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf")+" exec "+charon); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "charon.vici")); err == nil {
			break
		}
		if i == 100 {
			return nil, fmt.Errorf("charon did not open its vici socket:\n%s", c.proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Swanctl("--load-all", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		return nil, err
	}
	return c, nil
}

// pemOf returns the PEM of an RSA private key (PKCS#8) or public key.
func pemOf(key any) (string, error) {
	typ := "PUBLIC KEY"
	var der []byte
	var err error
	if k, ok := key.(*rsa.PrivateKey); ok {
		typ = "PRIVATE KEY"
		der, err = x509.MarshalPKCS8PrivateKey(k)
	} else {
		der, err = x509.MarshalPKIXPublicKey(key)
	}
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})), nil
}

// Swanctl runs swanctl against this charon and returns its output.
func (c *Charon) Swanctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.host.Run(ctx, "swanctl", append(args, "--uri", "unix://"+filepath.Join(c.dir, "charon.vici"))...)
}

// Log returns charon's log so far.
func (c *Charon) Log() string {
	log, _ := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	return string(log)
}

var charonDumpRow = regexp.MustCompile(`^\s*\d+\[CHD\]\s+\d+: ((?:[0-9A-F]{2} )+)`)

// Logged returns the bytes charon's log dumps after the line that ends
// with label, such as "encryption initiator key" (charon logs child keys
// with chd = 4), or nil.
func (c *Charon) Logged(label string) []byte {
	head := regexp.MustCompile(regexp.QuoteMeta(label) + ` => (\d+) bytes`)
	lines := strings.Split(c.Log(), "\n")
	for i, line := range lines {
		m := head.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var n int
		fmt.Sscan(m[1], &n)
		var out []byte
		for _, l := range lines[i+1:] {
			r := charonDumpRow.FindStringSubmatch(l)
			if r == nil || len(out) >= n {
				break
			}
			b, _ := hex.DecodeString(strings.ReplaceAll(r[1], " ", ""))
			out = append(out, b...)
		}
		return out
	}
	return nil
}

// LoggedSPI returns the SPI charon logs for its "inbound" or "outbound"
// ESP SA, in hex, or "".
func (c *Charon) LoggedSPI(direction string) string {
	m := regexp.MustCompile(`adding ` + direction + ` ESP SA\n[^\n]*SPI 0x([0-9a-f]{8})`).FindStringSubmatch(c.Log())
	if m == nil {
		return ""
	}
	return m[1]
}

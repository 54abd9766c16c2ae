package daemon_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"gif/internal/wire"
)

// TestTunnelDomain checks that outer packets carry their interface's
// routing domain as their mark, and that the policy rules for each family
// and domain in use are installed exactly while some interface uses them.
func TestTunnelDomain(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local, local6)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startWired(t, h, path)
	checkRules := func(step string, want ...domainRule) {
		t.Helper()
		wantSet := make(map[domainRule]bool)
		for _, r := range want {
			wantSet[r] = true
		}
		if got := h.installedRules(); !reflect.DeepEqual(got, wantSet) {
			t.Errorf("%s: rules %v; want %v", step, got, wantSet)
		}
	}
	sendMark := func(step, name string, family int, mark uint32) {
		t.Helper()
		inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte(step))
		h.device(name).Push(inner)
		got := h.network(family, wire.ProtoIPv4).next(t)
		if !bytes.Equal(got.Buf, inner) || got.Mark != mark {
			t.Errorf("%s: %s sent %x with mark %d; want %x with mark %d", step, name, got.Buf, got.Mark, inner, mark)
		}
	}

	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	checkRules("main table")
	sendMark("main table", "gif0", 4, 0)

	mustIfconfig(t, d, "gif0 tunneldomain 7")
	mustIfconfig(t, d, "gif1 tunneldomain 7")
	checkRules("domain 7", domainRule{4, 7})
	sendMark("domain 7", "gif0", 4, 7)

	mustIfconfig(t, d, "gif1 tunnel 2001:db8:1::1 2001:db8:2::1")
	checkRules("IPv6 tunnel in domain 7", domainRule{4, 7}, domainRule{6, 7})
	sendMark("IPv6 tunnel in domain 7", "gif1", 6, 7)

	mustIfconfig(t, d, "gif2 tunnel 198.51.100.1 203.0.113.2 tunneldomain 7")
	mustIfconfig(t, d, "gif0 tunneldomain 8")
	checkRules("gif0 in domain 8", domainRule{4, 7}, domainRule{6, 7}, domainRule{4, 8})
	sendMark("gif0 in domain 8", "gif0", 4, 8)

	mustIfconfig(t, d, "gif2 destroy")
	mustIfconfig(t, d, "gif1 -tunnel")
	checkRules("domain 7 unused", domainRule{4, 8})

	d.Close()
	checkRules("closed")
	d = startWired(t, h, path)
	checkRules("restored", domainRule{4, 8})
	sendMark("restored", "gif0", 4, 8)
	mustIfconfig(t, d, "gif0 -tunneldomain")
	checkRules("-tunneldomain")
	sendMark("-tunneldomain", "gif0", 4, 0)
}

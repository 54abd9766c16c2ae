package ikev1

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gif/internal/tools"
)

// dissect has tshark dissect msg as a UDP datagram from port 500 to 500
// and returns the fields asked for, one line per field, occurrences joined
// by commas.
func dissect(t *testing.T, msg []byte, fields ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var dump strings.Builder
	for off := 0; off < len(msg); off += 16 {
		fmt.Fprintf(&dump, "%06x", off)
		for _, b := range msg[off:min(off+16, len(msg))] {
			fmt.Fprintf(&dump, " %02x", b)
		}
		dump.WriteByte('\n')
	}
	in, pcap := filepath.Join(dir, "msg.txt"), filepath.Join(dir, "msg.pcap")
	if err := os.WriteFile(in, []byte(dump.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	text2pcap, err := tools.Command(t.Context(), "text2pcap", "-q", "-4", "1.2.3.4,4.3.2.1", "-u", "500,500", in, pcap)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := text2pcap.CombinedOutput(); err != nil {
		t.Fatalf("text2pcap: %v\n%s", err, out)
	}
	args := []string{"-r", pcap, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	tshark, err := tools.Command(t.Context(), "tshark", args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tshark.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\t")
}

// TestTsharkMainMode: tshark reads gif's first and third Main Mode
// messages as isakmpd's defaults: AES-128, SHA1, RSA signatures, MODP-3072,
// 3600 seconds, then a 384-byte KE and a nonce.
func TestTsharkMainMode(t *testing.T) {
	b1, b2 := seedConfigs(false)
	ini, _, msg1, msg2 := begin(t, b1, b2)
	got := dissect(t, msg1, "isakmp.exchangetype", "isakmp.version", "isakmp.sa.doi", "isakmp.prop.protoid",
		"isakmp.ike.attr.encryption_algorithm", "isakmp.ike.attr.key_length", "isakmp.ike.attr.hash_algorithm",
		"isakmp.ike.attr.authentication_method", "isakmp.ike.attr.group_description", "isakmp.ike.attr.life_duration")
	want := []string{"2", "0x10", "1", "1", "7", "128", "2", "3", "15", "3600"}
	if !slices.Equal(got, want) {
		t.Errorf("tshark reads message 1 as %q, want %q", got, want)
	}
	msg3, err := ini.Handle(msg2)
	if err != nil {
		t.Fatal(err)
	}
	got = dissect(t, msg3, "isakmp.typepayload", "isakmp.key_exchange.data", "isakmp.nonce")
	if len(got) != 3 || got[0] != "4,10" || len(got[1]) != 2*384 || got[2] != fmt.Sprintf("%x", ini.ni) {
		t.Errorf("tshark reads message 3 as %q", got)
	}
}

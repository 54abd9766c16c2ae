package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// espKeys are the keys of an SA pair written as one ipsec.conf rule: the
// first of each pair for the rule's direction, the second for the reverse.
type espKeys struct {
	auth, enc [2][]byte
}

// newESPKeys makes random keys of the given lengths in bytes (0 for none).
func newESPKeys(authLen, encLen int) espKeys {
	var k espKeys
	for i := range 2 {
		k.auth[i], k.enc[i] = make([]byte, authLen), make([]byte, encLen)
		rand.Read(k.auth[i])
		rand.Read(k.enc[i])
	}
	return k
}

// reversed returns the keys as the peer writes them: its rule goes the
// other way.
func (k espKeys) reversed() espKeys {
	return espKeys{auth: [2][]byte{k.auth[1], k.auth[0]}, enc: [2][]byte{k.enc[1], k.enc[0]}}
}

// rule writes the keys of an ipsec.conf SA rule, inline.
func (k espKeys) rule() string {
	var b strings.Builder
	if len(k.auth[0]) > 0 {
		fmt.Fprintf(&b, " authkey 0x%x:0x%x", k.auth[0], k.auth[1])
	}
	if len(k.enc[0]) > 0 {
		fmt.Fprintf(&b, " enckey 0x%x:0x%x", k.enc[0], k.enc[1])
	}
	return b.String()
}

// ipsecctl loads conf on n from a file of mode 0600, as `gif ipsecctl -f`.
func (n *node) ipsecctl(conf string) {
	n.t.Helper()
	file := filepath.Join(n.t.TempDir(), "ipsec.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.gif("ipsecctl", "-f", file)
}

// espStat returns the number of the line of `gif netstat -s -p esp` whose
// words match the regular expression what.
func (n *node) espStat(what string) int {
	n.t.Helper()
	out := n.gif("netstat", "-s", "-p", "esp")
	m := regexp.MustCompile(`(?m)^\s+(\d+) ` + what + `$`).FindStringSubmatch(out)
	if m == nil {
		n.t.Fatalf("%s: no %q in netstat output:\n%s", n.Name(), what, out)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// loadSeedIPsec loads the seed's ipsec.conf files as written on both
// bridges, with net.inet.etherip.allow=0, as TestIPsecSeedExample does,
// and returns the directories with the key files.
func loadSeedIPsec(t *testing.T, n seedLAN) map[string]string {
	t.Helper()
	dirs := ipsecDirs(t)
	for host, b := range map[string]*node{"b1": n.b1, "b2": n.b2} {
		b.gif("sysctl", "net.inet.etherip.allow=0")
		b.sh("sh", "-c", "cd "+dirs[host]+" && env GIF_STATE_DIR="+b.stateDir+" GIF_IKE_DIR="+b.ikeDir()+" "+gifBin+" ipsecctl -f ipsec.conf")
	}
	return dirs
}

// tsharkSA is one SA of ipsecctl's default transforms, aes and
// hmac-sha2-256, for tshark's esp_sa table.
type tsharkSA struct {
	src, dst        string
	spi             uint32
	encKey, authKey []byte
}

// tsharkESP returns the tshark options that decrypt and authenticate ESP
// with sas. The record format is tshark 4.0's esp_sa table: protocol,
// source, destination, SPI, encryption, key, authentication, key.
func tsharkESP(sas ...tsharkSA) []string {
	args := []string{"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}
	for _, sa := range sas {
		family := "IPv4"
		if strings.Contains(sa.src, ":") {
			family = "IPv6"
		}
		args = append(args, "-o", fmt.Sprintf(`uat:esp_sa:"%s","%s","%s","0x%08x","AES-CBC [RFC3602]","0x%x","HMAC-SHA-256-128 [RFC4868]","0x%x"`,
			family, sa.src, sa.dst, sa.spi, sa.encKey, sa.authKey))
	}
	return args
}

// espLayer is what tshark decoded of a packet's ESP header.
type espLayer struct {
	spi, seq            string
	iv                  string
	icvGood, icvChecked bool // icvChecked: tshark checked the ICV, good or bad
}

func espOf(p netns.Packet) (espLayer, bool) {
	layer, ok := p.Layers["esp"].(map[string]any)
	if !ok {
		return espLayer{}, false
	}
	e := espLayer{spi: fmt.Sprint(layer["esp.spi"]), seq: fmt.Sprint(layer["esp.sequence"]), iv: fmt.Sprint(layer["esp.iv"])}
	if tree, ok := layer["esp.icv_tree"].(map[string]any); ok {
		good, bad := tree["esp.icv_good"], tree["esp.icv_bad"]
		e.icvGood = good == "1" && bad == "0"
		e.icvChecked = good == "1" || bad == "1"
	}
	return e, true
}

// TestIPsecTshark has tshark decrypt a capture of the seed's protected LAN
// with the keys of the seed's ipsec.conf files: every ESP packet's ICV is
// good, and inside it are the outer IPv4 header gif sends, EtherIP, the
// Ethernet frame and h1's pings. With a wrong authentication key tshark
// finds every ICV bad, so the check is a real one.
func TestIPsecTshark(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	dirs := loadSeedIPsec(t, n)
	n.h1.mustPing(lanH2, 1) // ARP crosses first
	capture, err := n.b2.Capture("eth0", "ip")
	if err != nil {
		t.Fatal(err)
	}
	const pings = 4
	n.h1.mustPing(lanH2, pings, "-s", "200")
	key := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dirs["b1"], name))
		if err != nil {
			t.Fatal(err)
		}
		k, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	out := tsharkSA{src: seedB1, dst: seedB2, spi: 0x4242, encKey: key("enc1"), authKey: key("auth1")}
	in := tsharkSA{src: seedB2, dst: seedB1, spi: 0x4243, encKey: key("enc2"), authKey: key("auth2")}
	pkts, err := capture.StopWith(tsharkESP(out, in)...)
	if err != nil {
		t.Fatal(err)
	}
	const want = "eth:ethertype:ip:esp:ip:etherip:eth:ethertype:ip:icmp"
	seqs := map[string][]int{}
	ivs := map[string]bool{}
	requests, replies := 0, 0
	for i, p := range pkts {
		e, ok := espOf(p)
		if !ok {
			t.Fatalf("packet %d is not ESP: %v", i+1, p.Protocols)
		}
		if !e.icvGood {
			t.Errorf("packet %d (spi %s seq %s): ICV not good: %v", i+1, e.spi, e.seq, p.Layers["esp"])
		}
		if ivs[e.iv] {
			t.Errorf("packet %d: IV %s used twice", i+1, e.iv)
		}
		ivs[e.iv] = true
		seq, _ := strconv.Atoi(e.seq)
		seqs[e.spi] = append(seqs[e.spi], seq)
		if !strings.HasPrefix(strings.Join(p.Protocols, ":"), want) || len(p.IP) < 3 || p.EtherIP == nil || p.ICMP == nil {
			continue // such as IPv6 neighbour discovery bridged along
		}
		outer, carried, inner := p.IP[0], p.IP[1], p.IP[2]
		if outer.Proto != 50 || carried.Proto != 97 || carried.Src != outer.Src || carried.Dst != outer.Dst ||
			carried.TTL != 64 || p.EtherIP.Version != 3 {
			t.Errorf("packet %d: outer %+v, in ESP %+v, EtherIP %+v", i+1, outer, carried, p.EtherIP)
		}
		switch {
		case p.ICMP.Type == 8 && inner.Src.String() == lanH1 && inner.Dst.String() == lanH2 && outer.Src.String() == seedB1:
			requests++
		case p.ICMP.Type == 0 && inner.Src.String() == lanH2 && inner.Dst.String() == lanH1 && outer.Src.String() == seedB2:
			replies++
		}
	}
	if requests != pings || replies != pings {
		t.Fatalf("decrypted %d echo requests and %d replies, want %d each (of %d packets)", requests, replies, pings, len(pkts))
	}
	for spi, s := range seqs {
		for i := 1; i < len(s); i++ {
			if s[i] != s[i-1]+1 {
				t.Errorf("spi %s: sequence numbers %v do not count up by one", spi, s)
				break
			}
		}
	}
	// The same capture with the keys of the wrong direction for the ICV.
	out.authKey, in.authKey = in.authKey, out.authKey
	bad, err := netns.ReadPackets(capture.File(), tsharkESP(out, in)...)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range bad {
		if e, _ := espOf(p); e.icvGood || !e.icvChecked {
			t.Fatalf("packet %d: with the wrong key tshark does not find the ICV bad: %v", i+1, p.Layers["esp"])
		}
	}
}

// espAlgorithm is a transform gif and scapy both do, with scapy's names
// (scapy.layers.ipsec CRYPT_ALGOS and AUTH_ALGOS).
type espAlgorithm struct {
	auth, enc           string // ipsec.conf's names; auth "" with an AEAD enc
	authLen, encLen     int    // key lengths in bytes, salt included
	scapyAuth, scapyEnc string
}

var espAlgorithms = []espAlgorithm{
	{"hmac-sha2-256", "aes", 32, 16, "SHA2-256-128", "AES-CBC"},
	{"hmac-sha2-512", "aes-256", 64, 32, "SHA2-512-256", "AES-CBC"},
	{"hmac-sha2-384", "aes-192", 48, 24, "SHA2-384-192", "AES-CBC"},
	{"hmac-sha1", "aesctr", 20, 20, "HMAC-SHA1-96", "AES-CTR"},
	{"", "aes-128-gcm", 0, 20, "NULL", "AES-GCM"},
	{"", "aes-256-gcm", 0, 36, "NULL", "AES-GCM"},
	{"", "chacha20-poly1305", 0, 36, "NULL", "CHACHA20-POLY1305"},
}

func (a espAlgorithm) String() string {
	if a.auth == "" {
		return a.enc
	}
	return a.enc + "+" + a.auth
}

// scapyPeer is the seed LAN with gif on b1 only: b2 is scapy, which speaks
// ESP to b1 with its own implementation, for h2, which it impersonates.
type scapyPeer struct {
	seedLAN
	h1MAC string
}

// h2MAC is the source of the frames scapy sends for h2.
const h2MAC = "02:00:00:00:00:20"

func newScapyPeer(t *testing.T) scapyPeer {
	t.Helper()
	n := newSeedLAN(t)
	n.configure(4)
	stopDaemon(t, n.b2)
	n.b1.gif("sysctl", "net.inet.etherip.allow=0")
	// h1 answers h2 without asking for its MAC: scapy would not answer.
	n.h1.sh("ip", "neigh", "replace", lanH2, "lladdr", h2MAC, "dev", "eth0", "nud", "permanent")
	return scapyPeer{n, strings.TrimSpace(n.h1.sh("cat", "/sys/class/net/eth0/address"))}
}

// load loads on b1 an SA pair with alg and a flow for EtherIP to b2.
func (s scapyPeer) load(alg espAlgorithm, spi uint32, keys espKeys, mode string) {
	auth := ""
	if alg.auth != "" {
		auth = " auth " + alg.auth
	}
	s.b1.ipsecctl(fmt.Sprintf("esp %s from %s to %s spi 0x%x:0x%x%s enc %s%s\nflow esp proto etherip from %s to %s\n",
		mode, seedB1, seedB2, spi, spi+1, auth, alg.enc, keys.rule(), seedB1, seedB2))
}

// scapyESP is the request to scapyESPScript: what b2 sends, and how.
type scapyESP struct {
	Crypt, Auth string // scapy's names
	Tunnel      bool
	// The SA from b2 to b1, which scapy seals with, and the one back.
	SPIOut, SPIIn    uint32
	CKeyOut, AKeyOut string
	CKeyIn, AKeyIn   string
	B1, B2, H1, H2   string
	H1MAC, H2MAC     string
	ICMPID           int
	Sends            int  // how many times the one packet goes out
	Keep             int  // bytes of the ESP packet kept; 0 keeps all
	Cut              int  // bytes cut off the end of the ESP packet
	Clear            bool // send the EtherIP packet without ESP
	WaitReply        bool // sniff for b1's ESP answer and open it
}

// scapyESPScript sends from b2 an EtherIP packet from h2 to h1 (an echo
// request), sealed as the request r says, and prints as JSON what it
// opened of b1's answers.
const scapyESPScript = `
import json, threading, time
def sa(spi, ckey, akey, src, dst):
    return SecurityAssociation(ESP, spi=spi, seq_num=1,
        crypt_algo=r["Crypt"], crypt_key=bytes.fromhex(ckey),
        auth_algo=r["Auth"], auth_key=bytes.fromhex(akey) if akey else None,
        tunnel_header=IP(src=src, dst=dst) if r["Tunnel"] else None)
frame = Ether(src=r["H2MAC"], dst=r["H1MAC"])/IP(src=r["H2"], dst=r["H1"])/ICMP(id=r["ICMPID"], seq=1)/Raw(b"gif esp interop")
etherip = IP(src=r["B2"], dst=r["B1"], proto=97)/Raw(b"\x30\x00" + bytes(frame))
pkt = etherip
if not r["Clear"]:
    esp = bytes(sa(r["SPIOut"], r["CKeyOut"], r["AKeyOut"], r["B2"], r["B1"]).encrypt(etherip)[ESP])
    pkt = IP(src=r["B2"], dst=r["B1"], proto=50)/Raw(esp[:r["Keep"] or len(esp)-r["Cut"]])
back = sa(r["SPIIn"], r["CKeyIn"], r["AKeyIn"], r["B1"], r["B2"])
result = {"replies": 0, "etherip": "", "proto": 0, "errors": []}
def check(p):
    try:
        opened = back.decrypt(p[IP])
    except Exception as e:
        result["errors"].append("%s: %s" % (type(e).__name__, e))
        return False
    payload = bytes(opened[IP].payload)
    f = Ether(payload[2:])
    if ICMP in f and f[ICMP].type == 0 and f[ICMP].id == r["ICMPID"] and f[IP].src == r["H1"]:
        result["replies"] += 1
        result["etherip"], result["proto"] = payload[:2].hex(), opened[IP].proto
        return True
    return False
if r["WaitReply"]:
    started = threading.Event()
    sniffer = AsyncSniffer(iface="eth0", store=False, timeout=3, started_callback=started.set,
        lfilter=lambda p: IP in p and p[IP].proto == 50 and p[IP].src == r["B1"], stop_filter=check)
    sniffer.start()
    started.wait(3)
for i in range(r["Sends"]):
    send(pkt)
    time.sleep(0.2)
if r["WaitReply"]:
    sniffer.join()
print(json.dumps(result))
`

type scapyESPResult struct {
	Replies int
	EtherIP string
	Proto   int
	Errors  []string
}

// run has scapy on b2 send what req says and returns what it saw.
func (s scapyPeer) run(t *testing.T, req scapyESP) scapyESPResult {
	t.Helper()
	req.B1, req.B2, req.H1, req.H2, req.H1MAC, req.H2MAC = seedB1, seedB2, lanH1, lanH2, s.h1MAC, h2MAC
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// JSON of ASCII is a Python string literal once quoted.
	out, err := netnstest.Scapy(t.Context(), s.b2.Host, fmt.Sprintf("import json\nr = json.loads(%q)\n%s", arg, scapyESPScript))
	if err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
	var res scapyESPResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("scapy output %q: %v", out, err)
	}
	return res
}

// h1Requests counts the echo requests with ICMP id that h1 received from
// h2's address.
func h1Requests(pkts []netns.Packet, id int) int {
	seen := 0
	for _, p := range pkts {
		if p.ICMP == nil || p.ICMP.Type != 8 || len(p.IP) == 0 || p.IP[0].Src.String() != lanH2 {
			continue
		}
		icmp, _ := p.Layers["icmp"].(map[string]any)
		if fmt.Sprint(icmp["icmp.ident"]) == strconv.Itoa(id) {
			seen++
		}
	}
	return seen
}

// TestIPsecScapy: scapy's ESP, for each transform both do, seals an
// EtherIP frame that b1 accepts with net.inet.etherip.allow=0 and bridges
// to h1, and opens h1's answer that b1 sealed. Tunnel mode for all,
// transport mode for a transform with an HMAC and an AEAD one.
func TestIPsecScapy(t *testing.T) {
	s := newScapyPeer(t)
	capture, err := s.h1.Capture("eth0", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int // of the subtests run
	for i, alg := range espAlgorithms {
		modes := []string{"tunnel"}
		if alg.enc == "aes" || alg.enc == "chacha20-poly1305" {
			modes = append(modes, "transport")
		}
		for _, mode := range modes {
			t.Run(alg.String()+"/"+mode, func(t *testing.T) {
				id := 0x700 + len(ids)
				ids = append(ids, id)
				spi := uint32(0x1000 + 0x10*i)
				keys := newESPKeys(alg.authLen, alg.encLen)
				s.load(alg, spi, keys, mode)
				res := s.run(t, scapyESP{Crypt: alg.scapyEnc, Auth: alg.scapyAuth, Tunnel: mode == "tunnel",
					SPIOut: spi + 1, CKeyOut: hex.EncodeToString(keys.enc[1]), AKeyOut: hex.EncodeToString(keys.auth[1]),
					SPIIn: spi, CKeyIn: hex.EncodeToString(keys.enc[0]), AKeyIn: hex.EncodeToString(keys.auth[0]),
					ICMPID: id, Sends: 1, WaitReply: true})
				if res.Replies != 1 || res.EtherIP != "3000" || res.Proto != 97 {
					t.Fatalf("scapy opened %d echo replies (EtherIP header %q, protocol %d), want 1 in 30 00 and 97; errors: %v",
						res.Replies, res.EtherIP, res.Proto, res.Errors)
				}
				sa := regexp.MustCompile(fmt.Sprintf(`(?m)^esp %s from %s to %s spi 0x%08x .* packets 1 bytes \d+$`, mode, seedB2, seedB1, spi+1))
				if out := s.b1.gif("ipsecctl", "-s", "sa"); !sa.MatchString(out) {
					t.Fatalf("ipsecctl -s sa does not count one packet in:\n%s", out)
				}
			})
		}
	}
	pkts, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := h1Requests(pkts, id); got != 1 {
			t.Errorf("h1 received %d echo requests with id %#x, want 1", got, id)
		}
	}
}

// TestIPsecDrops sends b1 ESP that it must refuse: each is counted under
// its cause in netstat -s -p esp and nothing reaches h1. Of a packet sent
// twice, the first is accepted, as the control.
func TestIPsecDrops(t *testing.T) {
	s := newScapyPeer(t)
	alg := espAlgorithms[0]
	keys := newESPKeys(alg.authLen, alg.encLen)
	const spi = 0x5000
	s.load(alg, spi, keys, "tunnel")
	// Only the flow keeps clear EtherIP out.
	s.b1.gif("sysctl", "net.inet.etherip.allow=1")
	good := scapyESP{Crypt: alg.scapyEnc, Auth: alg.scapyAuth, Tunnel: true,
		SPIOut: spi + 1, CKeyOut: hex.EncodeToString(keys.enc[1]), AKeyOut: hex.EncodeToString(keys.auth[1]),
		SPIIn: spi, CKeyIn: hex.EncodeToString(keys.enc[0]), AKeyIn: hex.EncodeToString(keys.auth[0]), Sends: 1}
	wrongKey := good
	wrongKey.AKeyOut = hex.EncodeToString(newESPKeys(alg.authLen, 0).auth[0])
	unknownSPI := good
	unknownSPI.SPIOut = 0x9999
	short := good
	short.Keep = 8 + 16 + 4 // header, IV, and less than a block and an ICV
	cutBlock := good
	cutBlock.Cut = 16
	replayed := good
	replayed.Sends = 2
	clear := good
	clear.Clear = true
	cases := []struct {
		name      string
		req       scapyESP
		stat      string
		delivered int
	}{
		{"wrong key", wrongKey, "packets? that failed verification received", 0},
		{"unknown SPI", unknownSPI, "packets? for which no TDB was found", 0},
		{"truncated to the header", short, "packets? shorter than header shows", 0},
		{"truncated by a block", cutBlock, "packets? that failed verification received", 0},
		{"replayed", replayed, "possibly replayed packets? received", 1},
		{"clear EtherIP under a require flow", clear, "packets? dropped due to policy", 0},
	}
	capture, err := s.h1.Capture("eth0", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	ran := map[int]bool{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran[i] = true
			c.req.ICMPID = 0x800 + i
			before := s.b1.espStat(c.stat)
			s.run(t, c.req)
			waitFor(t, c.stat, func() bool { return s.b1.espStat(c.stat) >= before+1 })
			if after := s.b1.espStat(c.stat); after != before+1 {
				t.Fatalf("%q went from %d to %d, want +1", c.stat, before, after)
			}
		})
	}
	pkts, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got := h1Requests(pkts, 0x800+i); ran[i] && got != c.delivered {
			t.Errorf("%s: h1 received %d echo requests, want %d", c.name, got, c.delivered)
		}
	}
}

// TestIPsecIPinIP protects the IP-in-IP modes with a flow for protocol 4
// or 41, in tunnel and transport mode: pings cross, the wire carries only
// ESP, and tshark, with the keys, finds in it what the mode puts there.
func TestIPsecIPinIP(t *testing.T) {
	for _, c := range []struct {
		name         string
		outer, inner int
		mode, proto  string
	}{
		{"IPv4-in-IPv4", 4, 4, "tunnel", "ipencap"},
		{"IPv6-in-IPv4", 4, 6, "tunnel", "ipv6"},
		{"IPv4-in-IPv6", 6, 4, "tunnel", "4"},
		{"IPv6-in-IPv6", 6, 6, "tunnel", "41"},
		{"IPv4-in-IPv4 transport", 4, 4, "transport", "ipencap"},
		{"IPv6-in-IPv6 transport", 6, 6, "transport", "ipv6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newPair(t)
			tunnelBoth(a, b, c.outer, c.inner)
			srcA, srcB := outerA4, outerB4
			if c.outer == 6 {
				srcA, srcB = outerA6, outerB6
			}
			keys := newESPKeys(32, 16)
			const spi = 0x3000
			conf := "esp %s from %s to %s spi 0x%x:0x%x%s\nflow esp proto %s from %s to %s\n"
			a.ipsecctl(fmt.Sprintf(conf, c.mode, srcA, srcB, spi, spi+1, keys.rule(), c.proto, srcA, srcB))
			b.ipsecctl(fmt.Sprintf(conf, c.mode, srcB, srcA, spi+1, spi, keys.reversed().rule(), c.proto, srcB, srcA))
			dst := map[int]string{4: innerB4, 6: innerB6}[c.inner]
			capture, err := b.Capture("eth0", tunnelFilter+" or ip proto 50 or ip6 proto 50")
			if err != nil {
				t.Fatal(err)
			}
			a.mustPing(dst, 3)
			a.mustPing(dst, 2, "-s", "1200")
			pkts, err := capture.StopWith(tsharkESP(
				tsharkSA{src: srcA, dst: srcB, spi: spi, encKey: keys.enc[0], authKey: keys.auth[0]},
				tsharkSA{src: srcB, dst: srcA, spi: spi + 1, encKey: keys.enc[1], authKey: keys.auth[1]})...)
			if err != nil {
				t.Fatal(err)
			}
			wantIP := 2 // outer, inner
			if c.mode == "tunnel" {
				wantIP = 3 // outer, the outer gif sent, inner
			}
			requests := 0
			for i, p := range pkts {
				e, ok := espOf(p)
				if !ok || len(p.IP) == 0 || p.IP[0].Proto != 50 {
					t.Fatalf("packet %d is not ESP: %v", i+1, p.Protocols)
				}
				if !e.icvGood {
					t.Errorf("packet %d: ICV not good", i+1)
				}
				if p.ICMP == nil || len(p.IP) != wantIP {
					t.Errorf("packet %d: %d IP headers in %v, want %d and ICMP", i+1, len(p.IP), p.Protocols, wantIP)
					continue
				}
				inner := p.IP[len(p.IP)-1]
				if c.mode == "tunnel" {
					sent := p.IP[1]
					if sent.Src != p.IP[0].Src || sent.Dst != p.IP[0].Dst || sent.Proto != map[int]int{4: 4, 6: 41}[c.inner] {
						t.Errorf("packet %d: in ESP %+v, outside %+v", i+1, sent, p.IP[0])
					}
				}
				if inner.Version == c.inner && inner.Dst.String() == dst && p.ICMP.Type == map[int]int{4: 8, 6: 128}[c.inner] {
					requests++
				}
			}
			if requests != 5 {
				t.Fatalf("%d echo requests in ESP, want 5 (of %d packets)", requests, len(pkts))
			}
		})
	}
}

// killDaemon kills every process of host b, its gif daemon among them,
// and waits until its gif0 is gone.
func killDaemon(t *testing.T, b *node) {
	t.Helper()
	pids := b.pids()
	if len(pids) == 0 {
		t.Fatalf("no daemon process in %s", b.Name())
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(t, b, "gif0")
}

// TestIPsecRestart kills b1's daemon with SIGKILL: the next gif command
// starts a new one, which restores the SAs and flows, and the protected
// LAN works again, with b2 still running as it was.
func TestIPsecRestart(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	loadSeedIPsec(t, n)
	n.mustPingESP(t, 3)
	before := n.b1.gif("ipsecctl", "-s", "all")
	killDaemon(t, n.b1)
	stderr, err := n.b1.gifStderr("ipsecctl", "-s", "all")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "started the gif daemon") {
		t.Fatalf("no word of the daemon starting: %q", stderr)
	}
	after := n.b1.gif("ipsecctl", "-s", "all")
	counters := regexp.MustCompile(` packets \d+ bytes \d+`)
	if counters.ReplaceAllString(after, "") != counters.ReplaceAllString(before, "") {
		t.Fatalf("after restart:\n%s\nbefore:\n%s", after, before)
	}
	for _, want := range []string{"spi 0x00004242", "spi 0x00004243", "flow esp out proto etherip from 1.2.3.4/32 to 4.3.2.1/32"} {
		if !strings.Contains(after, want) {
			t.Fatalf("ipsecctl -s all after restart lacks %q:\n%s", want, after)
		}
	}
	n.mustPingESP(t, 3)
}

// mustPingESP pings h2 from h1 and fails with the ESP counters of both
// bridges unless every ping is answered.
func (n seedLAN) mustPingESP(t *testing.T, count int) {
	t.Helper()
	if res := n.h1.ping(lanH2, count); res.Received != count {
		t.Fatalf("%d of %d pings answered\nb1 %s\nb2 %s", res.Received, count,
			n.b1.gif("netstat", "-s", "-p", "esp"), n.b2.gif("netstat", "-s", "-p", "esp"))
	}
}

// TestIPsecReload loads b1's ipsec.conf again, unchanged, as netstart
// does on every run: the LANs still reach each other.
func TestIPsecReload(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	dirs := loadSeedIPsec(t, n)
	n.mustPingESP(t, 3)
	n.b1.sh("sh", "-c", "cd "+dirs["b1"]+" && env GIF_STATE_DIR="+n.b1.stateDir+" GIF_IKE_DIR="+n.b1.ikeDir()+" "+gifBin+" ipsecctl -f ipsec.conf")
	n.mustPingESP(t, 3)
}

package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gif/internal/tools"
)

// flushDelay is how long Capture.Stop lets dumpcap run after the last
// packet. dumpcap reads a TPACKET_V3 ring whose blocks reach it only when
// full or 250 ms after they opened, and on SIGINT it drops the open block:
// measured here, stopping 200 ms after a burst lost all of it, 260 ms kept it.
const flushDelay = 500 * time.Millisecond

// Capture is a running dumpcap (tshark's capture engine) on an interface of
// a host, writing to a file until Stop.
type Capture struct {
	proc *Proc
	file string
}

// Capture starts capturing on ifname inside h, with a capture filter in
// pcap-filter(7) syntax, such as "ip proto 4" ("" captures everything). It
// returns once packets are being captured.
func (h *Host) Capture(ifname, filter string) (*Capture, error) {
	if _, err := tools.Path("tshark"); err != nil {
		return nil, err // Stop needs it: fail before capturing, not after.
	}
	f, err := os.CreateTemp(h.lab.dir, h.name+"-"+ifname+"-*.pcapng")
	if err != nil {
		return nil, fmt.Errorf("capture on %s in %s: %w", ifname, h, err)
	}
	f.Close()
	args := []string{"-q", "-i", ifname, "-w", f.Name()}
	if filter != "" {
		args = append(args, "-f", filter)
	}
	p, err := h.Start("dumpcap", args...)
	if err != nil {
		return nil, fmt.Errorf("capture on %s in %s: %w", ifname, h, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	// dumpcap names its file once the interface is open.
	if err := p.WaitFor(ctx, "File: "); err != nil {
		p.Kill9()
		return nil, fmt.Errorf("capture on %s in %s: %w", ifname, h, err)
	}
	return &Capture{proc: p, file: f.Name()}, nil
}

// Stop waits for the packets in flight to reach the file, stops dumpcap and
// decodes what it captured with tshark.
func (c *Capture) Stop() ([]Packet, error) {
	time.Sleep(flushDelay)
	if err := c.proc.stop(syscall.SIGINT); err != nil {
		return nil, fmt.Errorf("stop capture: %w", err)
	}
	return ReadPackets(c.file)
}

// readPackets decodes a capture file with `tshark -T json`.

// Packet is what tshark decoded of one captured frame: the fields that gif's
// tests assert, and all the rest in Layers.
type Packet struct {
	// Protocols lists the dissected layers, outermost first, as tshark's
	// frame.protocols: "eth", "ethertype", "ip", "ip", "icmp".
	Protocols []string
	// IP holds the IPv4 and IPv6 headers, outermost first: the outer and
	// inner headers of a tunnelled packet. Headers quoted by an ICMP error
	// are in ICMP.Quoted instead.
	IP      []IPHeader
	EtherIP *EtherIPHeader // nil without one
	ICMP    *ICMP          // the first ICMP or ICMPv6 message; nil without one
	// Layers is tshark's JSON for the frame: layer names map to objects,
	// or to arrays of objects for repeated layers.
	Layers map[string]any
}

// IPHeader holds the fields of an IPv4 or IPv6 header, named after IPv4.
type IPHeader struct {
	Version    int // 4 or 6
	Src, Dst   netip.Addr
	TTL        int  // ip.ttl or ipv6.hlim
	Proto      int  // ip.proto or ipv6.nxt
	DSField    int  // ip.dsfield or ipv6.tclass: DSCP and ECN
	ECN        int  // ip.dsfield.ecn or ipv6.tclass.ecn
	DF         bool // ip.flags.df; false for IPv6
	MF         bool // ip.flags.mf; false for IPv6
	FragOffset int  // ip.frag_offset, in 8-byte units; 0 for IPv6
	ID         int  // ip.id; 0 for IPv6
	Flow       int  // ipv6.flow; 0 for IPv4
	Truncated  bool // too short for tshark to decode its fields; only Version is set
}

// EtherIPHeader is the header of RFC 3378.
type EtherIPHeader struct {
	Version int // etherip.ver
}

// ICMP is an ICMP or ICMPv6 message.
type ICMP struct {
	Version    int // 4 for ICMP, 6 for ICMPv6
	Type, Code int
	MTU        int // icmp.mtu of "fragmentation needed", icmpv6.mtu of "packet too big"; else 0
	// Quoted holds the headers of the packet an error message quotes,
	// outermost first.
	Quoted []IPHeader
}

func decodePacket(layers map[string]any) (Packet, error) {
	d := decoder{}
	frame := d.objects(layers, "frame")
	if len(frame) == 0 {
		return Packet{}, fmt.Errorf("no frame layer")
	}
	p := Packet{Protocols: strings.Split(d.str(frame[0], "frame.protocols"), ":"), Layers: layers}
	p.IP = d.ipHeaders(layers, p.Protocols)
	if e := d.objects(layers, "etherip"); len(e) > 0 {
		p.EtherIP = &EtherIPHeader{Version: d.num(e[0], "etherip.ver")}
	}
	for i, proto := range p.Protocols {
		if proto == "icmp" || proto == "icmpv6" {
			p.ICMP = d.icmp(layers, proto, p.Protocols[i+1:])
			break
		}
	}
	return p, d.err
}

// decoder reads tshark's JSON and remembers the first field it missed, so
// that a change in tshark's output fails loudly instead of reading as zero.
type decoder struct {
	err error
}

// ipHeaders decodes the IP layers that obj holds in the order protos lists
// them. It stops at the first ICMP layer: the IP layers after it are the
// ones the ICMP message quotes, nested inside it.
func (d *decoder) ipHeaders(obj map[string]any, protos []string) []IPHeader {
	var headers []IPHeader
	seen := map[string]int{}
	for _, proto := range protos {
		if proto == "icmp" || proto == "icmpv6" {
			break
		}
		if proto != "ip" && proto != "ipv6" {
			continue
		}
		layers := d.objects(obj, proto)
		if n := seen[proto]; n < len(layers) {
			headers = append(headers, d.ipHeader(proto, layers[n]))
		}
		seen[proto]++
	}
	return headers
}

func (d *decoder) ipHeader(proto string, layer map[string]any) IPHeader {
	if _, ok := lookup(layer, proto+".src"); !ok {
		// A header cut short, such as one a test crafted: tshark shows
		// the layer but no addresses.
		return IPHeader{Version: map[string]int{"ip": 4, "ipv6": 6}[proto], Truncated: true}
	}
	if proto == "ip" {
		return IPHeader{
			Version:    4,
			Src:        d.addr(layer, "ip.src"),
			Dst:        d.addr(layer, "ip.dst"),
			TTL:        d.num(layer, "ip.ttl"),
			Proto:      d.num(layer, "ip.proto"),
			DSField:    d.num(layer, "ip.dsfield"),
			ECN:        d.num(layer, "ip.dsfield.ecn"),
			DF:         d.flag(layer, "ip.flags.df"),
			MF:         d.flag(layer, "ip.flags.mf"),
			FragOffset: d.num(layer, "ip.frag_offset"),
			ID:         d.num(layer, "ip.id"),
		}
	}
	return IPHeader{
		Version: 6,
		Src:     d.addr(layer, "ipv6.src"),
		Dst:     d.addr(layer, "ipv6.dst"),
		TTL:     d.num(layer, "ipv6.hlim"),
		Proto:   d.num(layer, "ipv6.nxt"),
		DSField: d.num(layer, "ipv6.tclass"),
		ECN:     d.num(layer, "ipv6.tclass.ecn"),
		Flow:    d.num(layer, "ipv6.flow"),
	}
}

func (d *decoder) icmp(layers map[string]any, proto string, quoted []string) *ICMP {
	msg := d.objects(layers, proto)
	if len(msg) == 0 {
		d.fail(fmt.Errorf("no %s layer", proto))
		return nil
	}
	m := &ICMP{
		Version: 4,
		Type:    d.num(msg[0], proto+".type"),
		Code:    d.num(msg[0], proto+".code"),
		Quoted:  d.ipHeaders(msg[0], quoted),
	}
	if proto == "icmpv6" {
		m.Version = 6
	}
	if _, ok := lookup(msg[0], proto+".mtu"); ok {
		m.MTU = d.num(msg[0], proto+".mtu")
	}
	return m
}

// objects returns the layer called name in obj: tshark gives one layer as
// an object and repeated ones as an array of objects.
func (d *decoder) objects(obj map[string]any, name string) []map[string]any {
	switch v := obj[name].(type) {
	case nil:
		return nil
	case map[string]any:
		return []map[string]any{v}
	case []any:
		layers := make([]map[string]any, 0, len(v))
		for _, e := range v {
			if layer, ok := e.(map[string]any); ok {
				layers = append(layers, layer)
			}
		}
		return layers
	default:
		d.fail(fmt.Errorf("layer %s is a %T", name, v))
		return nil
	}
}

func (d *decoder) str(layer map[string]any, field string) string {
	v, ok := lookup(layer, field)
	if !ok {
		d.fail(fmt.Errorf("no field %s", field))
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(fmt.Errorf("field %s is a %T", field, v))
	}
	return s
}

// num reads a decimal or "0x" hexadecimal field; base 0 would take a
// leading zero for octal.
func (d *decoder) num(layer map[string]any, field string) int {
	s := d.str(layer, field)
	if s == "" {
		return 0
	}
	base := 10
	if hex, ok := strings.CutPrefix(s, "0x"); ok {
		s, base = hex, 16
	}
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		d.fail(fmt.Errorf("field %s: %w", field, err))
	}
	return int(n)
}

func (d *decoder) flag(layer map[string]any, field string) bool {
	switch s := d.str(layer, field); s {
	case "1", "True":
		return true
	case "0", "False", "":
		return false
	default:
		d.fail(fmt.Errorf("field %s: %q is not a flag", field, s))
		return false
	}
}

func (d *decoder) addr(layer map[string]any, field string) netip.Addr {
	s := d.str(layer, field)
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		d.fail(fmt.Errorf("field %s: %w", field, err))
	}
	return a
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// lookup finds field in layer or in the subtrees tshark puts bit fields in,
// such as ip.flags.df in ip.flags_tree.
func lookup(layer map[string]any, field string) (any, bool) {
	if v, ok := layer[field]; ok {
		return v, true
	}
	for name, v := range layer {
		if tree, ok := v.(map[string]any); ok && strings.HasSuffix(name, "_tree") {
			if v, ok := lookup(tree, field); ok {
				return v, true
			}
		}
	}
	return nil, false
}

package tunnel

import "strconv"

// Drop is why a packet was dropped.
type Drop uint8

const (
	DropNone Drop = iota
	// DropShort: shorter than its header, or than the length the header
	// claims (ipipstat hdrops); for EtherIP, shorter than the EtherIP and
	// Ethernet headers (etheripstat hdrops).
	DropShort
	// DropFamily: the inner IP version is neither 4 nor 6, does not match
	// the outer protocol, or the inner header is malformed (ipipstat family).
	DropFamily
	// DropECN: the outer packet saw congestion (CE) but the inner packet is
	// not ECN-capable, so the mark cannot be passed on (RFC 3168 §9.1.1).
	DropECN
	// DropLoop: the tunnel's outer route leads back into the tunnel.
	DropLoop
	// DropVersion: an EtherIP header other than 30 00 or the legacy 03 00:
	// another version, or reserved bits set (etheripstat adrops).
	DropVersion

	numDrops = iota
)

var dropNames = [numDrops]string{
	DropNone:    "none",
	DropShort:   "short",
	DropFamily:  "family",
	DropECN:     "ecn",
	DropLoop:    "loop",
	DropVersion: "version",
}

// String returns a short word for counters and logs.
func (d Drop) String() string {
	if d < numDrops {
		return dropNames[d]
	}
	return "drop" + strconv.Itoa(int(d))
}

// DropReasons returns the words of every reason a packet is dropped for,
// as Snapshot keys them.
func DropReasons() []string { return dropNames[DropNone+1:] }

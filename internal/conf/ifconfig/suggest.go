package ifconfig

import (
	"fmt"
	"slices"
)

// keywords are the words Parse knows, in the order suggestions prefer them.
var keywords = []string{
	"up", "down", "create", "destroy", "mtu", "description", "-description",
	"tunnel", "-tunnel", "inet", "inet6", "-inet6",
	"tunnelttl", "tunneldf", "-tunneldf", "tunnelecn", "-tunnelecn",
	"tunneldomain", "-tunneldomain",
	"netmask", "prefixlen", "broadcast", "alias", "-alias", "delete",
	"descr", "-descr", "giftunnel", "deletetunnel", "-inet",
}

// unsupported are OpenBSD ifconfig parameters that a gif interface takes or
// that are often tried on one, but that this implementation lacks.
var unsupported = []string{
	"txprio", "rxprio", "rdomain", "-rdomain", "group", "-group",
	"metric", "priority", "llprio", "rtlabel", "-rtlabel",
	"link0", "-link0", "link1", "-link1", "link2", "-link2",
	"autoconf", "-autoconf", "eui64", "anycast", "-anycast",
	"tentative", "-tentative", "pltime", "vltime",
	"tunneladdr", "keepalive", "-keepalive", "vnetid", "-vnetid",
}

func isKeyword(w string) bool     { return slices.Contains(keywords, w) }
func isUnsupported(w string) bool { return slices.Contains(unsupported, w) }

// suggestion returns ` (did you mean "KEYWORD"?)` for the keyword closest
// to w, if one is close enough to be a likely typo, or "".
func suggestion(w string) string {
	best, bestDist := "", 3
	for _, k := range keywords {
		if d := editDistance(w, k); d < bestDist && d < len(w) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

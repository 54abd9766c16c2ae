package ifconfig

import "fmt"

// suggestion returns ` (did you mean "WORD"?)` for the parameter closest to
// w, if one is close enough to be a likely typo, or "".
func (g *grammar) suggestion(w string) string {
	best, bestDist := "", 3
	for _, prm := range g.params {
		if d := editDistance(w, prm.word); d < bestDist && d < len(w) {
			best, bestDist = prm.word, d
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

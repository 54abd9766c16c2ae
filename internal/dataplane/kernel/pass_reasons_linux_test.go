package kernel

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPassReasonsMirrorC checks that the Go constants name the C enum's
// reasons in its order, and that the map holds one entry per reason.
func TestPassReasonsMirrorC(t *testing.T) {
	src, err := os.ReadFile("bpf/gif.c")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)enum pass_reason \{(.*?)\};`).FindSubmatch(src)
	if body == nil {
		t.Fatal("bpf/gif.c: no enum pass_reason")
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(PASS_\w+),`).FindAllSubmatch(body[1], -1) {
		names = append(names, string(m[1]))
	}
	if names[len(names)-1] != "PASS_REASONS" {
		t.Fatalf("enum pass_reason ends with %s, want PASS_REASONS", names[len(names)-1])
	}
	names = names[:len(names)-1]
	if len(names) != int(NumPassReasons) {
		t.Fatalf("bpf/gif.c has %d pass reasons, pass_reasons.go %d", len(names), NumPassReasons)
	}
	goNames := []string{"PassInnerNotIP", "PassGSONotTCP", "PassTooBig", "PassNoRoute", "PassForwardingOff",
		"PassFIBError", "PassLoop", "PassEncapFailed", "PassNotHost", "PassBadHeader", "PassOptions",
		"PassChecksum", "PassLength", "PassFragment", "PassUnknownPair", "PassFamily", "PassBadInner",
		"PassECN", "PassSpoof", "PassDecapFailed"}
	for i, c := range names {
		if strings.ReplaceAll(c, "_", "") != strings.ToUpper(goNames[i]) {
			t.Errorf("reason %d: C %s, Go %s", i, c, goNames[i])
		}
	}
	spec, err := loadGif()
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Maps["pass_reasons"].MaxEntries; got != uint32(NumPassReasons) {
		t.Errorf("pass_reasons has %d entries, want %d", got, NumPassReasons)
	}
	seen := map[string]bool{}
	for r := range NumPassReasons {
		s := r.String()
		if s == "" || seen[s] {
			t.Errorf("reason %d: name %q empty or repeated", r, s)
		}
		seen[s] = true
	}
	if s := NumPassReasons.String(); s != "pass reason 20" {
		t.Errorf("out of range: %q", s)
	}
}

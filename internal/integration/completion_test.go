package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gif/internal/netns/netnstest"
	"gif/internal/tools"
)

// completeScript loads the completion file ($0), finds the function that
// `complete -p gif` names, and calls it as bash would on the line $1 with
// the cursor at its end; it prints the candidates, one a line.
const completeScript = `source "$0" || exit 1
read -ra COMP_WORDS <<<"$1"
[[ $1 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$1 COMP_POINT=${#1}
fn=$(complete -p gif | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[[ -n $fn ]] || { echo "complete -p gif names no function" >&2; exit 1; }
"$fn" gif "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`

// completions returns what bash, with the completion file loaded and the
// gif under test first on its PATH, offers for line inside h.
func completions(t *testing.T, h *node, file, line string) []string {
	t.Helper()
	bash, err := tools.Path("bash")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := h.Run(ctx, "env", "PATH="+filepath.Dir(gifBin)+":"+os.Getenv("PATH"), bash, "-c", completeScript, file, line)
	if err != nil {
		t.Fatalf("complete %q: %v", line, err)
	}
	return strings.Fields(out)
}

// TestBashCompletion completes commands, interface names and ifconfig's
// parameters with dist/gif.bash, in a host with a gif and a bridge (veths
// so named: completing asks no daemon) besides eth0 and eth1.
func TestBashCompletion(t *testing.T) {
	file, err := filepath.Abs("../../dist/gif.bash")
	if err != nil {
		t.Fatal(err)
	}
	lab := netnstest.NewLab(t, "gifc")
	h := newNode(t, lab, "h")
	h.sh("ip", "link", "add", "gif5", "type", "veth", "peer", "name", "bridge7")
	h.sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	for _, c := range []struct {
		line string
		want []string
	}{
		{"gif if", []string{"ifconfig"}},
		{"gif ifconfig gif0 tunn", []string{"tunnel", "tunnelttl", "tunneldf", "tunnelecn", "tunneldomain"}},
		{"gif ifconfig ", []string{"gif5", "bridge7", "-a", "-j", "-C"}},
		{"gif ifconfig -j b", []string{"bridge7"}},
		{"gif ifconfig bridge7 li", []string{"link0", "link1", "link2"}},
		{"gif ifconfig eth0 ", []string{"up", "down", "mtu"}},
		{"gif sysctl net.inet.gif", []string{"net.inet.gif.fastpath"}},
		{"gif help v", []string{"version"}},
		{"gif ipsecctl -f ", nil},
	} {
		got := completions(t, h, file, c.line)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("complete %q: %q, want %q", c.line, got, want)
		}
	}
}

package tunnel

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestApplyTransaction: the commands of a transaction apply in order, one
// seeing what the one before did, and a failing one leaves the state as
// it was and names its file and line.
func TestApplyTransaction(t *testing.T) {
	s, _ := mustApply(t, State{}, "gif3", Op{Kind: OpUp})
	tx := Transaction{File: "hostname.bridge0", Commands: []Command{
		{Name: "gif0", Ops: []Op{{Kind: OpCreate, Token: "create"}}, Line: 1},
		{Name: "bridge0", Ops: []Op{{Kind: OpBridgeAdd, Token: "add gif0", Text: "gif0"}, {Kind: OpBridgeAdd, Token: "add eth1", Text: "eth1"}}, Line: 2},
		{Name: "eth1", Ops: []Op{{Kind: OpMTU, Token: "mtu 99999", Int: 99999}}, Line: 3}, // Linux's, not the state's
		{Name: "bridge0", Ops: []Op{{Kind: OpUp, Token: "up"}}, Line: 5},
	}}
	next, _, err := s.ApplyTransaction(tx, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := next.FindBridge("bridge0")
	if _, gif := next.Find("gif0"); !ok || !gif || !b.Up || !reflect.DeepEqual(b.Members, []string{"gif0", "eth1"}) {
		t.Fatalf("after the transaction: %+v", next)
	}

	for _, c := range []struct {
		cmd  Command
		want string
	}{
		{Command{Name: "gif0", Ops: []Op{{Kind: OpMTU, Token: "mtu 99999", Int: 99999}}, Line: 7}, `hostname.bridge0:7: gif0: "mtu 99999": mtu 99999 is out of range`},
		{Command{Name: "bridge0", Ops: []Op{{Kind: OpBridgeAdd, Token: "add eth9", Text: "eth9"}}, Line: 8}, `hostname.bridge0:8: bridge0: "add eth9": eth9: no such interface`},
		{Command{Name: "gif3", Ops: []Op{{Kind: OpCreate, Token: "create"}}}, `hostname.bridge0: gif3: "create": interface already exists`},
	} {
		bad := Transaction{File: tx.File, Commands: append(tx.Commands[:len(tx.Commands):len(tx.Commands)], c.cmd)}
		got, warnings, err := s.ApplyTransaction(bad, testEnv)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("transaction ending in %+v: error %v, want %s…", c.cmd, err, c.want)
		}
		if !reflect.DeepEqual(got, s) || warnings != nil {
			t.Errorf("a failed transaction gave state %+v and warnings %q, not the state before", got, warnings)
		}
	}
}

func TestTransactionErrors(t *testing.T) {
	injected := errors.New("refused")
	typed := Transaction{Commands: []Command{{Name: "gif0"}}}
	file := Transaction{File: "hostname.gif0", Commands: []Command{{Name: "gif0", Line: 2}, {Name: "gif0", Line: 4}}}
	for _, c := range []struct {
		err  error
		want string
	}{
		{typed.At(0, injected), "refused"},
		{typed.Whole(injected), "refused"},
		{file.At(1, injected), "hostname.gif0:4: refused"},
		{file.At(2, injected), "hostname.gif0: refused"},
		{file.Whole(injected), "hostname.gif0:2: lines 2-4, applied as one change: refused"},
		{Transaction{File: "f", Commands: file.Commands[:1]}.Whole(injected), "f:2: refused"},
	} {
		if c.err.Error() != c.want || !errors.Is(c.err, injected) {
			t.Errorf("got %q, want %q wrapping the error", c.err, c.want)
		}
	}
}

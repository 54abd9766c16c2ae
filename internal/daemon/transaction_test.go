package daemon_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

// transaction makes a transaction of file from "LINE IF ARGS..." lines.
func transaction(t *testing.T, file string, lines ...string) tunnel.Transaction {
	t.Helper()
	tx := tunnel.Transaction{File: file}
	for _, l := range lines {
		var line int
		words := strings.Fields(l)
		if _, err := fmt.Sscan(words[0], &line); err != nil {
			t.Fatal(err)
		}
		ops, err := ifconfig.Parse(words[1], words[2:])
		if err != nil {
			t.Fatal(err)
		}
		tx.Commands = append(tx.Commands, tunnel.Command{Name: words[1], Ops: ops, Line: line})
	}
	return tx
}

// TestApplyTransactionIsAllOrNothing: a transaction that fails anywhere,
// in the state or in Linux, and a dry run leave the state, its file and
// Linux as they were, and the error names the file and line.
func TestApplyTransactionIsAllOrNothing(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		failOp  string // a Host call that fails, if any
		dryRun  bool
		want    string // the error's start; "" for none
		injects bool
	}{{
		name:  "mtu out of range on the third line",
		lines: []string{"1 gif1 create", "1 gif1 tunnel 198.51.100.1 203.0.113.2", "2 gif1 up", "3 gif1 mtu 99999"},
		want:  `hostname.gif1:3: gif1: "mtu 99999": mtu 99999 is out of range`,
	}, {
		name:  "bridge with a missing member",
		lines: []string{"1 bridge5 create", "1 bridge5 add eth9", "2 bridge5 up"},
		want:  `hostname.bridge5:1: bridge5: "add eth9": eth9: no such interface`,
	}, {
		name:   "Linux refuses the new device",
		lines:  []string{"1 gif1 create", "1 gif1 tunnel 198.51.100.1 203.0.113.2", "4 gif1 inet 192.0.2.5/32"},
		failOp: "CreateTUN", want: "hostname.gif1:1: lines 1-4, applied as one change: gif1: ", injects: true,
	}, {
		name:   "Linux refuses a link's mtu",
		lines:  []string{"1 eth1 up", "2 eth1 mtu 1400"},
		failOp: "SetMTU", want: `hostname.eth1:2: eth1: "mtu 1400": `, injects: true,
	}, {
		name:   "a link is put back when the gifs fail",
		lines:  []string{"1 eth1 up mtu 1400", "2 gif1 tunnel 198.51.100.1 203.0.113.2"},
		failOp: "CreateTUN", want: "hostname.eth1:1: lines 1-2, applied as one change: eth1, gif1: ", injects: true,
	}, {
		name:   "a dry run changes nothing",
		lines:  []string{"1 eth1 up", "2 gif1 create", "2 gif1 tunnel 198.51.100.1 203.0.113.2", "3 bridge0 add gif1 add eth1"},
		dryRun: true,
	}, {
		name:   "a dry run finds what applying would",
		lines:  []string{"1 gif1 create", "3 gif1 mtu 99999"},
		dryRun: true, want: `hostname.gif1:3: gif1: "mtu 99999"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			h.setLocal(local)
			h.addEthernet("eth1", 1500)
			path := filepath.Join(t.TempDir(), "state.json")
			d := startDaemon(t, h, path)
			mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24")
			before := takeSnapshot(t, d, h, path)
			bridges, _ := d.Show("")

			if tt.failOp != "" {
				h.failNth(tt.failOp, 1)
			}
			file := "hostname." + strings.Fields(tt.lines[0])[1]
			_, err := d.ApplyTransaction(transaction(t, file, tt.lines...), tt.dryRun)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("error %v; want %s…", err, tt.want)
			case tt.injects != errors.Is(err, errInjected):
				t.Fatalf("error %v: wraps the injected failure %v, want %v", err, !tt.injects, tt.injects)
			}
			before.check(t, takeSnapshot(t, d, h, path))
			if after, _ := d.Show(""); len(after.Bridges) != len(bridges.Bridges) {
				t.Errorf("bridges %+v, were %+v", after.Bridges, bridges.Bridges)
			}
		})
	}
}

// TestApplyTransactionApplies: a transaction applies commands for several
// interfaces together, each seeing what the one before did.
func TestApplyTransactionApplies(t *testing.T) {
	d, h := newDaemon(t)
	h.addEthernet("eth1", 1500)
	tx := transaction(t, "hostname.bridge0", "1 bridge0 create", "1 bridge0 add gif4 add eth1", "2 eth1 up", "3 bridge0 up")
	if _, err := d.ApplyTransaction(tx, false); err != nil {
		t.Fatal(err)
	}
	r, err := d.Show("")
	if err != nil || len(r.Bridges) != 1 || !r.Bridges[0].Up || strings.Join(r.Bridges[0].Members, " ") != "gif4 eth1" {
		t.Fatalf("after the transaction: %+v, %v", r, err)
	}
	if !h.linux()["eth1"].Up {
		t.Error("eth1 is not up")
	}
}

package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gif/internal/conf/ifconfig"
	"gif/internal/conf/ipsecconf"
	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/tunnel"
)

// methods are the control API's methods.
var methods = []string{
	control.MethodIfconfig, control.MethodShow, control.MethodSysctlGet, control.MethodSysctlSet,
	control.MethodStats, control.MethodIPsecLoad, control.MethodIPsecShow, control.MethodIPsecDel,
	control.MethodTransaction,
}

// FuzzServe sends the daemon, on fake hosts, requests of any method name
// with any params, as a root client could. It must answer, never panic (the
// handler turns a panic into an "internal error" answer); an unknown method
// is named in the error, and so is the method of params that do not decode;
// a result must encode, as the control socket sends it.
func FuzzServe(f *testing.F) {
	ops, err := ifconfig.Parse("gif0", strings.Fields("tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1 192.0.2.2 mtu 1400 up"))
	if err != nil {
		f.Fatal(err)
	}
	mtu, err := ifconfig.Parse("eth0", strings.Fields("mtu 1400"))
	if err != nil {
		f.Fatal(err)
	}
	ipsecConf, err := ipsecconf.Parse("ipsec.conf", []byte(
		"flow esp proto ipencap from 198.51.100.1 to 203.0.113.1\n"+
			"esp from 198.51.100.1 to 203.0.113.1 spi 0x4242:0x4243 authkey "+strings.Repeat("11", 32)+":"+strings.Repeat("22", 32)+
			" enckey "+strings.Repeat("33", 16)+":"+strings.Repeat("44", 16)+"\n"+
			"ike esp from 198.51.100.1 to 203.0.113.9 psk secret\n"), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		method string
		params any
	}{
		{control.MethodIfconfig, control.IfconfigParams{Name: "gif0", Ops: ops}},
		{control.MethodShow, control.ShowParams{Name: "gif0"}},
		{control.MethodShow, control.ShowParams{}},
		{control.MethodSysctlGet, control.SysctlGetParams{Names: []string{"net.inet.ipip.allow"}}},
		{control.MethodSysctlSet, control.SysctlSetParams{Name: "net.inet.etherip.allow", Value: "1"}},
		{control.MethodStats, nil},
		{control.MethodIPsecLoad, ipsecConf},
		{control.MethodIPsecShow, nil},
		{control.MethodIPsecDel, ipsecConf},
		{control.MethodIfconfig, "gif0"},
		{control.MethodTransaction, control.TransactionParams{Transaction: tunnel.Transaction{File: "hostname.gif0",
			Commands: []tunnel.Command{{Name: "gif0", Ops: ops, Line: 1}, {Name: "eth0", Ops: mtu, Line: 2}}}, DryRun: true}},
		{control.MethodTransaction, control.TransactionParams{Transaction: tunnel.Transaction{File: "hostname.gif0",
			Commands: []tunnel.Command{{Name: "gif0", Ops: ops, Line: 1}}}}},
		{control.MethodSysctlSet, control.SysctlSetParams{Name: "net.inet.ipip.allow", Value: "-1"}},
		{"nope", nil},
		{"", nil},
	} {
		var params []byte
		if seed.params != nil {
			if params, err = json.Marshal(seed.params); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(seed.method, params)
	}
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		if len(params) > 0 && !json.Valid(params) {
			return // the control socket decodes params as JSON before the daemon sees them
		}
		d, _ := newDaemon(t)
		result, _, err := daemon.ServeRequest(d, context.Background(), method, params)
		switch {
		case err != nil && strings.Contains(err.Error(), "internal error"):
			t.Fatalf("%s %s: %v", method, params, err)
		case err != nil && !slices.Contains(methods, method) && !strings.Contains(err.Error(), fmt.Sprintf("%q", method)):
			t.Fatalf("unknown method %q: error %q does not name it", method, err)
		case err != nil && strings.HasPrefix(err.Error(), "bad parameters") && !strings.HasPrefix(err.Error(), "bad parameters of "+method+": "):
			t.Fatalf("%s %s: error %q does not name the method", method, params, err)
		case err == nil && !slices.Contains(methods, method):
			t.Fatalf("unknown method %q succeeded", method)
		}
		if _, err := json.Marshal(result); err != nil {
			t.Fatalf("%s %s: the result does not encode: %v", method, params, err)
		}
	})
}

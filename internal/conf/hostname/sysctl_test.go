package hostname

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseSysctlConf(t *testing.T) {
	data := "# sysctl.conf\nnet.inet.etherip.allow=1      # only if NOT protecting with IPsec\n\n  net.inet.ipip.allow = 2 \r\n#net.inet.ip.forwarding=1\nnet.inet.gif.fastpath=0\n"
	got, err := ParseSysctlConf("sysctl.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{{"net.inet.etherip.allow", "1", 2}, {"net.inet.ipip.allow", "2", 4}, {"net.inet.gif.fastpath", "0", 6}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseSysctlConf = %+v, want %+v", got, want)
	}
}

func TestParseSysctlConfErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"net.inet.ipip.allow=1\nnet.inet.ip.forwarding=1", "sysctl.conf:2: net.inet.ip.forwarding: not a variable gif knows " +
			"(it knows net.inet.etherip.allow, net.inet.gif.fastpath, net.inet.ipip.allow)"},
		{"net.inet.gif.fastpath=2", `sysctl.conf:1: net.inet.gif.fastpath: value "2" is not a number in 0..1`},
		{"net.inet.ipip.allow=3", `sysctl.conf:1: net.inet.ipip.allow: value "3" is not a number in 0..2`},
		{"\nnet.inet.etherip.allow=yes", `sysctl.conf:2: net.inet.etherip.allow: value "yes" is not a number in 0..1`},
		{"net.inet.etherip.allow=", `sysctl.conf:1: net.inet.etherip.allow: value "" is not a number in 0..1`},
		{"net.inet.etherip.allow", `sysctl.conf:1: "net.inet.etherip.allow": want NAME=VALUE`},
		{" = 1 # x", `sysctl.conf:1: "= 1": want NAME=VALUE`},
	}
	for _, tc := range tests {
		got, err := ParseSysctlConf("sysctl.conf", []byte(tc.data))
		var fe *Error
		if !errors.As(err, &fe) || got != nil {
			t.Errorf("ParseSysctlConf(%q) = %+v, %v; want an *Error", tc.data, got, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseSysctlConf(%q):\n got %s\nwant %s", tc.data, err, tc.want)
		}
	}
	if _, err := ParseSysctlConf("sysctl.conf", []byte("net.inet.ipip.allow=9\nbogus")); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("want the first error only, got %v", err)
	}
}

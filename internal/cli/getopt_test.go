package cli

import (
	"slices"
	"testing"
)

func TestClusterFlags(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"-nvf", "ipsec.conf"}, []string{"-n", "-v", "-f", "ipsec.conf"}},
		{[]string{"-nv", "-f", "x"}, []string{"-n", "-v", "-f", "x"}},
		{[]string{"-fipsec.conf", "-sall"}, []string{"-f", "ipsec.conf", "-s", "all"}},
		{[]string{"-F"}, []string{"-F"}},
		{[]string{"-d", "--", "-nv"}, []string{"-d", "--", "-nv"}},
		{[]string{"-v", "extra", "-n"}, []string{"-v", "extra", "-n"}},
		{[]string{"--help"}, []string{"--help"}},
	} {
		if got := clusterFlags(c.in, "fs"); !slices.Equal(got, c.want) {
			t.Errorf("clusterFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"gif/internal/conf/hostname"
)

func TestScaleUnitsDiffer(t *testing.T) {
	docs := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}
	tunnels, pairs := map[string]bool{}, map[string]bool{}
	for n := range scaleCount {
		dst, local, peer := scaleUnit(n)
		if tunnels[dst] || pairs[local+" "+peer] {
			t.Fatalf("gif%d repeats a tunnel (%s) or address pair (%s %s)", n, dst, local, peer)
		}
		tunnels[dst], pairs[local+" "+peer] = true, true
		if !netip.MustParsePrefix("2001:db8::/32").Contains(netip.MustParseAddr(dst)) {
			t.Fatalf("gif%d: tunnel destination %s is no documentation address", n, dst)
		}
		for _, a := range []string{local, peer} {
			if !slices.ContainsFunc(docs, func(p netip.Prefix) bool { return p.Contains(netip.MustParseAddr(a)) }) {
				t.Fatalf("gif%d: %s is no documentation address", n, a)
			}
		}
	}
}

// TestHostnameFile parses a scale gif's file with gif's own parser: it
// must configure what the one ifconfig call does.
func TestHostnameFile(t *testing.T) {
	n := 777
	f, err := hostname.ParseFile("hostname.gif777", "gif777", []byte(hostnameFile(n)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) > 0 {
		t.Errorf("warnings: %v", f.Warnings)
	}
	var words []string
	for _, s := range f.Steps {
		words = append(words, s.Args...)
	}
	got := strings.Join(words, " ")
	dst, local, peer := scaleUnit(n)
	for _, want := range []string{"tunnel " + scaleSource + " " + dst, local, peer, "up"} {
		if !strings.Contains(got, want) {
			t.Errorf("the file's steps %q lack %q", got, want)
		}
	}
	args := ifconfigArgs(n)
	if args[1] != "gif777" || !slices.Contains(args, dst) || !slices.Contains(args, peer) || args[len(args)-1] != "up" {
		t.Errorf("ifconfig arguments %v", args)
	}
}

func TestGifLinks(t *testing.T) {
	out := "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\\    link/loopback 00:00:00:00:00:00\n" +
		"2: gif0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1280 qdisc pfifo_fast\\    link/none \n" +
		"3: gif12: <POINTOPOINT,NOARP> mtu 1280\\    link/none \n" +
		"4: bridge0: <BROADCAST,MULTICAST,UP> mtu 1500\\    link/ether 00:11:22:33:44:55\n" +
		"5: eth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\    link/ether 00:11:22:33:44:56\n"
	want := []gifLink{{"gif0", true}, {"gif12", false}}
	if got := gifLinks(out); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

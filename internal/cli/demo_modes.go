package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"gif/internal/netns"
)

// demoTunnel is one tunnel of the demo's second part: a mode of gif(4)
// between hosts a and b, with its own outer and inner addresses.
type demoTunnel struct {
	mode           string
	iface          string
	outerA, outerB string
	outerPrefix    string
	family         string // inner: inet or inet6
	innerA, innerB string
}

var demoTunnels = []demoTunnel{
	{"IPv4 in IPv4", "gif0", "192.0.2.1", "192.0.2.2", "/24", "inet", "198.51.100.1", "198.51.100.2"},
	{"IPv6 in IPv4", "gif1", "192.0.2.3", "192.0.2.4", "/24", "inet6", "2001:db8:1::1", "2001:db8:1::2"},
	{"IPv4 in IPv6", "gif2", "2001:db8::1", "2001:db8::2", "/64", "inet", "198.51.100.5", "198.51.100.6"},
	{"IPv6 in IPv6", "gif3", "2001:db8::3", "2001:db8::4", "/64", "inet6", "2001:db8:3::1", "2001:db8:3::2"},
}

// runModesDemo builds hosts a and b joined by a veth pair, a gif of each of
// the four IP modes between them, pings through each and prints a table.
func runModesDemo(ctx context.Context, lab *netns.Lab, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	a, err := lab.Host("a")
	if err != nil {
		return err
	}
	b, err := lab.Host("b")
	if err != nil {
		return err
	}
	if err := lab.Link(a, "eth0", b, "eth0"); err != nil {
		return err
	}
	d := &demo{exe: exe, state: map[*netns.Host]string{}, out: stdout}
	for _, h := range []*netns.Host{a, b} {
		dir, err := os.MkdirTemp("", "gif-demo-"+hostName(h)+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		d.state[h] = dir
	}
	fmt.Fprintf(stdout, "gif demo: the four IP modes between hosts a and b, joined by a veth pair (eth0)\n")
	for _, tun := range demoTunnels {
		for _, end := range []struct {
			h           *netns.Host
			src, dst    string
			local, peer string
		}{
			{a, tun.outerA, tun.outerB, tun.innerA, tun.innerB},
			{b, tun.outerB, tun.outerA, tun.innerB, tun.innerA},
		} {
			if err := end.h.AddAddr("eth0", end.src+tun.outerPrefix); err != nil {
				return err
			}
			if _, err := d.gif(ctx, end.h, "ifconfig", tun.iface, "tunnel", end.src, end.dst, tun.family, end.local, end.peer, "up"); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "a# gif ifconfig %s tunnel %s %s %s %s %s up\n",
			tun.iface, tun.outerA, tun.outerB, tun.family, tun.innerA, tun.innerB)
	}
	w := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "\nMODE\tINTERFACE\tOUTER\tINNER\tRESULT\tRTT")
	failed := 0
	for _, tun := range demoTunnels {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := a.Ping(ctx, tun.innerB, "-c", "3", "-i", "0.2", "-W", "2")
		result, rtt := fmt.Sprintf("%d/%d replies", res.Received, res.Transmitted), "-"
		if err != nil || res.Received == 0 {
			failed++
			result = "FAILED"
		} else {
			rtt = res.AvgRTT.Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s --> %s\t%s --> %s\t%s\t%s\n",
			tun.mode, tun.iface, tun.outerA, tun.outerB, tun.innerA, tun.innerB, result, rtt)
	}
	w.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d tunnels carried no ping", failed, len(demoTunnels))
	}
	return nil
}

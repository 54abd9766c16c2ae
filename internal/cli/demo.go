package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"gif/internal/netns"
)

// demoTunnel is one of the demo's tunnels: a mode of gif(4) between the
// two hosts, with its own outer and inner addresses.
type demoTunnel struct {
	mode           string
	iface          string
	outerA, outerB string
	family         string // inner: inet or inet6
	innerA, innerB string
	outerPrefix    string
}

var demoTunnels = []demoTunnel{
	{"IPv4 in IPv4", "gif0", "192.0.2.1", "192.0.2.2", "inet", "198.51.100.1", "198.51.100.2", "/24"},
	{"IPv6 in IPv4", "gif1", "192.0.2.3", "192.0.2.4", "inet6", "2001:db8:1::1", "2001:db8:1::2", "/24"},
	{"IPv4 in IPv6", "gif2", "2001:db8::1", "2001:db8::2", "inet", "198.51.100.5", "198.51.100.6", "/64"},
	{"IPv6 in IPv6", "gif3", "2001:db8::3", "2001:db8::4", "inet6", "2001:db8:3::1", "2001:db8:3::2", "/64"},
}

// demoMain is `gif demo`: two hosts in network namespaces, a tunnel of each
// of the four IP modes between them, a ping through each, a table.
func demoMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "demo", fmt.Errorf("takes no arguments"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lab, err := netns.NewLab("gifdemo")
	if err != nil {
		return fail(stderr, "demo", err)
	}
	err = runDemo(ctx, lab, stdout)
	if cerr := lab.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	fmt.Fprintln(stdout, "demo: namespaces and interfaces removed")
	if err != nil {
		return fail(stderr, "demo", err)
	}
	return 0
}

func runDemo(ctx context.Context, lab *netns.Lab, stdout io.Writer) error {
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
	stateA, err := os.MkdirTemp("", "gif-demo-a-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateA)
	stateB, err := os.MkdirTemp("", "gif-demo-b-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateB)
	gif := func(h *netns.Host, state string, args ...string) error {
		_, err := h.Run(ctx, "env", append([]string{"GIF_STATE_DIR=" + state, exe}, args...)...)
		return err
	}
	fmt.Fprintf(stdout, "demo: hosts %s and %s joined by a veth pair (eth0)\n", a.Name(), b.Name())
	for _, tun := range demoTunnels {
		if err := a.AddAddr("eth0", tun.outerA+tun.outerPrefix); err != nil {
			return err
		}
		if err := b.AddAddr("eth0", tun.outerB+tun.outerPrefix); err != nil {
			return err
		}
		for _, end := range []struct {
			h                          *netns.Host
			state, src, dst, loc, peer string
		}{
			{a, stateA, tun.outerA, tun.outerB, tun.innerA, tun.innerB},
			{b, stateB, tun.outerB, tun.outerA, tun.innerB, tun.innerA},
		} {
			args := []string{"ifconfig", tun.iface, "tunnel", end.src, end.dst, tun.family, end.loc, end.peer, "up"}
			if err := gif(end.h, end.state, args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "demo: %s: gif ifconfig %s tunnel %s %s %s %s %s up\n",
			tun.mode, tun.iface, tun.outerA, tun.outerB, tun.family, tun.innerA, tun.innerB)
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

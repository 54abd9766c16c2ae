package kernel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"gif/internal/dataplane"
	"gif/internal/link/linktest"
	"gif/internal/netns/netnstest"
	"gif/internal/tunnel"
)

// queueProcessEnv makes the test binary run TestQueueProcess.
const queueProcessEnv = "GIF_KERNEL_QUEUE_PROCESS"

// TestQueueProcess is not a test: run by TestDestroyedWhileQueued in a
// namespace holding the TUNs gif0, gif1 and gif2, it attaches gif0 and,
// while the egress program's attachment to gif0 is under way, attaches
// gif1 on the kernel plane's terms and destroys it; then gif2, whose
// attachment comes after gif1's turn. It says "ready" when gif0's and
// gif2's alone were attached and no map entry is left for gif1, and
// closes the plane when its standard input ends.
func TestQueueProcess(t *testing.T) {
	if os.Getenv(queueProcessEnv) == "" {
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	objs := passObjects(t)
	egressMap := objs.egressMap.(*fakeMap)
	started, release := make(chan struct{}), make(chan struct{})
	var attachedTo []int // by the worker; read once gif2 is attached, under p.mu
	tc := tcxAttacher{}
	objs.attachEgress = func(ifindex int) (attachment, error) {
		if len(attachedTo) == 0 {
			close(started)
			<-release
		}
		attachedTo = append(attachedTo, ifindex)
		return tc.attach(ifindex, objs.egress, tcEgress)
	}
	p, err := newPlane(dataplane.NewUserspace(log), log, tc, objs)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	local := netip.MustParseAddr("192.0.2.1")
	var ifaces []*dataplane.Iface
	attach := func(n int) *dataplane.Iface {
		ifc := p.Attach(linktest.New(fmt.Sprintf("gif%d", n), 1), false, new(tunnel.Counters))
		c := tunnel.NewConfig(fmt.Sprintf("gif%d", n))
		c.Src, c.Dst, c.Up = local, netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + n)}), true
		ifc.SetConfig(&c)
		ifc.SetRunning(true)
		ifaces = append(ifaces, ifc)
		ip, ether := dataplane.Tables(ifaces)
		p.Publish(&dataplane.View{IPTable: ip, EtherTable: ether, Local: map[netip.Addr]bool{local: true},
			Sysctl: &tunnel.Sysctl{Fastpath: 1}})
		return ifc
	}
	attach(0)
	<-started
	gif1 := attach(1)
	if st := gif1.PlaneState(); st.Why != whyAttaching {
		t.Fatalf("gif1 waiting for its egress program: plane %+v, want why %q", st, whyAttaching)
	}
	gif1.Detach()
	ifaces = slices.DeleteFunc(ifaces, func(ifc *dataplane.Iface) bool { return ifc == gif1 })
	close(release)
	gif2 := attach(2)
	waitEgress(t, p, gif2)
	index := func(name string) int {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return ifc.Index
	}
	p.mu.Lock()
	attachedSoFar := slices.Clone(attachedTo)
	_, gif1Entry := egressMap.m[uint32(index("gif1"))]
	p.mu.Unlock()
	if want := []int{index("gif0"), index("gif2")}; !slices.Equal(attachedSoFar, want) {
		t.Fatalf("the egress program was attached to ifindexes %v, want gif0's and gif2's %v", attachedSoFar, want)
	}
	if gif1Entry {
		t.Fatal("egress_tunnels holds an entry for the destroyed gif1")
	}
	if st := gif2.PlaneState(); !st.Kernel {
		t.Fatalf("gif2 with its egress program attached: plane %+v, want the kernel plane", st)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}

// TestDestroyedWhileQueued: a gif destroyed while its egress program's
// attachment waits in the queue gets none (its device still exists here:
// a TUN made outside the plane), and leaves no map entry; the gifs around
// it get theirs, and closing the plane leaves no program anywhere.
func TestDestroyedWhileQueued(t *testing.T) {
	_, a, _ := netnstest.NewPair(t)
	for _, name := range []string{"gif0", "gif1", "gif2"} {
		if _, err := a.Run(context.Background(), "ip", "tuntap", "add", name, "mode", "tun"); err != nil {
			t.Fatal(err)
		}
	}
	cmd, stdin, _ := processIn(t, a, "TestQueueProcess", queueProcessEnv+"=1")
	for name, want := range map[string]int{"gif0": 1, "gif1": 0, "gif2": 1, "lo": 0, "gift0": 0} {
		if got := tcxPrograms(t, a, name, tcEgress); len(got) != want {
			t.Errorf("%s egress holds %v, want %d programs", name, got, want)
		}
	}
	stdin.Close()
	cmd.Wait()
	for _, name := range []string{"gif0", "gif1", "gif2"} {
		waitPrograms(t, attachKinds[0], a, name, tcEgress, 0)
	}
}

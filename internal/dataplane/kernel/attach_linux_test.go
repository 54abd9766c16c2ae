package kernel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"gif/internal/dataplane"
	"gif/internal/link/linktest"
	"gif/internal/netns"
	"gif/internal/netns/netnstest"
	"gif/internal/tools"
	"gif/internal/tunnel"
)

// planeProcessEnv makes the test binary run a plane inside a namespace
// (TestPlaneProcess) for the tests that kill it.
const planeProcessEnv = "GIF_KERNEL_PLANE_PROCESS"

// attacherEnv names the attacher (tcx or clsact) that the plane processes
// of the tests below use, as New would if it were the only one.
const attacherEnv = "GIF_KERNEL_TEST_ATTACHER"

// useAttacherFromEnv leaves only the attacher attacherEnv names, if set.
func useAttacherFromEnv(t *testing.T) {
	name := os.Getenv(attacherEnv)
	if name == "" {
		return
	}
	for _, a := range attachers {
		if a.String() == name {
			attachers = []attacher{a}
			return
		}
	}
	t.Fatalf("%s=%q: no such attacher", attacherEnv, name)
}

// passProgram returns a tc program that passes every packet on (TC_ACT_UNSPEC).
func passProgram(t testing.TB) *ebpf.Program {
	prog, err := newPassProgram()
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// passObjects are programs that pass every packet on and maps in memory.
func passObjects(t testing.TB) objects {
	return objects{egress: passProgram(t), ingress: passProgram(t),
		egressMap: &fakeMap{m: map[any]any{}}, ingressMap: &fakeMap{m: map[any]any{}},
		localMap: &fakeMap{m: map[any]any{}}, settingsMap: &fakeMap{m: map[any]any{}},
		counters: fakeCounters{}}
}

// TestPlaneProcess is not a test: run by the tests below in a namespace
// (planeProcessEnv set), it attaches a plane whose programs pass every
// packet on, with gif0 (a TUN device there) attached, says "ready" and
// closes the plane when its standard input ends. The line "hold" on its
// input holds the plane's lock, which keeps it from reading the
// interfaces' changes, until "release"; it answers each.
func TestPlaneProcess(t *testing.T) {
	if os.Getenv(planeProcessEnv) == "" {
		return
	}
	useAttacherFromEnv(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	u := dataplane.NewUserspace(log)
	tc, err := chooseAttacher()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlane(u, log, tc, passObjects(t))
	if err != nil {
		t.Fatal(err)
	}
	gif0 := p.Attach(linktest.New("gif0", 1), false, new(tunnel.Counters))
	waitUnderlay(t, p)
	waitEgress(t, p, gif0)
	fmt.Println("ready")
	for in := bufio.NewScanner(os.Stdin); in.Scan(); {
		switch in.Text() {
		case "hold":
			p.mu.Lock()
			fmt.Println("held")
		case "release":
			p.mu.Unlock()
			fmt.Println("released")
		}
	}
	p.Close()
	fmt.Println("closed")
}

// waitUnderlay waits until p has attached its ingress program to an
// underlay interface, which it does a moment after it starts.
func waitUnderlay(t *testing.T, p *Plane) {
	t.Helper()
	waitPlane(t, p, "an underlay interface has the ingress program", func() bool { return len(p.underlayAttached) > 0 })
}

// waitEgress waits until p has attached its egress program to ifc's
// device, which it does a moment after Attach.
func waitEgress(t *testing.T, p *Plane, ifc *dataplane.Iface) {
	t.Helper()
	waitPlane(t, p, ifc.Device().Name()+" has the egress program", func() bool { _, ok := p.egresses[ifc]; return ok })
}

// waitPlane waits until done, called under p's lock, is true, at most
// 5 s.
func waitPlane(t *testing.T, p *Plane, what string, done func() bool) {
	t.Helper()
	for range 500 {
		p.mu.Lock()
		ok := done()
		p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waited 5 s for this: %s", what)
}

// planeProcess runs TestPlaneProcess in h with the attacher tc and waits
// for it to be ready.
func planeProcess(t *testing.T, h *netns.Host, tc attacher) (cmd *exec.Cmd, stdin io.WriteCloser, out *bufio.Scanner) {
	t.Helper()
	return processIn(t, h, "TestPlaneProcess", planeProcessEnv+"=1", attacherEnv+"="+tc.String())
}

// processIn runs the test binary's process test in h, with the
// environment variables env ("NAME=value") added, and waits for it to say
// "ready".
func processIn(t *testing.T, h *netns.Host, test string, env ...string) (cmd *exec.Cmd, stdin io.WriteCloser, out *bufio.Scanner) {
	t.Helper()
	cmd, err := tools.Command(context.Background(), "ip", "netns", "exec", h.Name(), os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, _ = cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out = bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("%s: %q, %v", test, out.Text(), out.Err())
	}
	return cmd, stdin, out
}

// attachKind is an attacher as the tests drive and inspect it.
type attachKind struct {
	tc attacher
	// foreign attaches prog to the ingress of ifname in h as another
	// user of the same kind of attachment would, until the test ends,
	// and returns the ids of the foreign programs there.
	foreign func(t *testing.T, h *netns.Host, ifname string, prog *ebpf.Program) []ebpf.ProgramID
	// programs returns the ids of the programs on the hook of ifname in h.
	programs func(t *testing.T, h *netns.Host, ifname string, hook tcHook) []ebpf.ProgramID
}

var attachKinds = []attachKind{
	{tc: tcxAttacher{}, foreign: foreignTCX, programs: tcxPrograms},
	{tc: clsactAttacher{}, foreign: foreignClsact, programs: clsactPrograms},
}

// onInterface runs fn in h with the index of ifname.
func onInterface(t *testing.T, h *netns.Host, ifname string, fn func(ifindex int) error) {
	t.Helper()
	err := h.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		return fn(ifc.Index)
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", ifname, h, err)
	}
}

func programID(t *testing.T, prog *ebpf.Program) ebpf.ProgramID {
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

func foreignTCX(t *testing.T, h *netns.Host, ifname string, prog *ebpf.Program) []ebpf.ProgramID {
	onInterface(t, h, ifname, func(ifindex int) error {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return err
		}
		t.Cleanup(func() { l.Close() })
		return nil
	})
	return []ebpf.ProgramID{programID(t, prog)}
}

// foreignClsact adds a clsact qdisc, then prog as a cls_bpf filter of
// another name and priority than gif's, and a program that passes
// everything on under gif's own filter name at another priority: neither
// is gif's.
func foreignClsact(t *testing.T, h *netns.Host, ifname string, prog *ebpf.Program) []ebpf.ProgramID {
	namesake := passProgram(t)
	t.Cleanup(func() { namesake.Close() })
	onInterface(t, h, ifname, func(ifindex int) error {
		if err := netlink.QdiscAdd(&netlink.GenericQdisc{QdiscType: "clsact", QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}); err != nil {
			return fmt.Errorf("add the foreign clsact qdisc: %w", err)
		}
		for i, f := range []struct {
			name string
			prog *ebpf.Program
		}{{"foreign_counter", prog}, {ourFilter(0, tcIngress).Name, namesake}} {
			err := netlink.FilterAdd(&netlink.BpfFilter{Name: f.name, Fd: f.prog.FD(), DirectAction: true, FilterAttrs: netlink.FilterAttrs{
				LinkIndex: ifindex, Parent: netlink.HANDLE_MIN_INGRESS, Priority: uint16(i + 1), Protocol: unix.ETH_P_ALL}})
			if err != nil {
				return fmt.Errorf("add the foreign filter %s: %w", f.name, err)
			}
		}
		return nil
	})
	return []ebpf.ProgramID{programID(t, prog), programID(t, namesake)}
}

func tcxPrograms(t *testing.T, h *netns.Host, ifname string, hook tcHook) []ebpf.ProgramID {
	t.Helper()
	attach := ebpf.AttachTCXIngress
	if hook == tcEgress {
		attach = ebpf.AttachTCXEgress
	}
	var ids []ebpf.ProgramID
	onInterface(t, h, ifname, func(ifindex int) error {
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: attach})
		if err != nil {
			return fmt.Errorf("query the tcx programs: %w", err)
		}
		for _, p := range r.Programs {
			ids = append(ids, p.ID)
		}
		return nil
	})
	return ids
}

func clsactPrograms(t *testing.T, h *netns.Host, ifname string, hook tcHook) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	onInterface(t, h, ifname, func(ifindex int) error {
		filters, err := netlink.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, ourFilter(ifindex, hook).Parent)
		if err != nil {
			return fmt.Errorf("list the tc filters: %w", err)
		}
		for _, f := range filters {
			if bf, ok := f.(*netlink.BpfFilter); ok && bf.Id != 0 {
				ids = append(ids, ebpf.ProgramID(bf.Id))
			}
		}
		return nil
	})
	return ids
}

// hasClsact reports whether ifname in h has a clsact qdisc.
func hasClsact(t *testing.T, h *netns.Host, ifname string) bool {
	found := false
	onInterface(t, h, ifname, func(ifindex int) error {
		qdiscs, err := netlink.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}})
		for _, q := range qdiscs {
			found = found || q.Type() == "clsact"
		}
		return err
	})
	return found
}

// countingProgram returns a foreign tc program that counts the packets it
// sees in counts[0] and passes them on.
func countingProgram(t *testing.T) (*ebpf.Program, *ebpf.Map) {
	counts, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counts.Close() })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, counts.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, -1).WithSymbol("out"),
		asm.Return(),
	}})
	if err != nil {
		t.Fatalf("load the foreign program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, counts
}

// TestAttachments, with each attacher: the plane attaches its ingress
// program to the underlay beside foreign ones, which keep seeing every
// packet, and its egress program to the gif; it follows interfaces that
// come up and go down; closing the plane, or killing its process, then
// starting it again, leaves only the foreign programs (and clsact
// qdisc). Killed, a plane's tcx links go with it, its clsact filters
// stay until the next plane replaces them.
func TestAttachments(t *testing.T) {
	for _, kind := range attachKinds {
		for _, end := range []string{"close", "kill -9"} {
			t.Run(kind.tc.String()+"/"+end, func(t *testing.T) {
				testAttachments(t, kind, end)
			})
		}
	}
}

func testAttachments(t *testing.T, kind attachKind, end string) {
	_, a, b := netnstest.NewPair(t)
	if _, err := a.Run(context.Background(), "ip", "tuntap", "add", "gif0", "mode", "tun"); err != nil {
		t.Fatal(err)
	}
	counter, counts := countingProgram(t)
	foreign := kind.foreign(t, a, "gift0", counter)
	// ours returns the ids of the programs not foreign on gift0's ingress
	// and on gif0's egress.
	ours := func() (ingress, egress []ebpf.ProgramID) {
		all := kind.programs(t, a, "gift0", tcIngress)
		for _, id := range foreign {
			if !slices.Contains(all, id) {
				t.Fatalf("gift0 ingress holds %v: the foreign program %d is gone", all, id)
			}
		}
		for _, id := range all {
			if !slices.Contains(foreign, id) {
				ingress = append(ingress, id)
			}
		}
		return ingress, kind.programs(t, a, "gif0", tcEgress)
	}
	// started checks that a plane has one program on each hook, none
	// of them in stale, and returns them.
	started := func(stale []ebpf.ProgramID) []ebpf.ProgramID {
		t.Helper()
		ingress, egress := ours()
		if len(ingress) != 1 || len(egress) != 1 {
			t.Fatalf("the plane's programs: %v on gift0 ingress, %v on gif0 egress; want one on each", ingress, egress)
		}
		now := append(ingress, egress...)
		for _, id := range stale {
			if slices.Contains(now, id) {
				t.Fatalf("the plane's programs %v: the killed plane's %d is still there", now, id)
			}
		}
		return now
	}
	// gone waits until none of the plane's programs is left.
	gone := func() {
		t.Helper()
		var ingress, egress []ebpf.ProgramID
		for range 100 {
			if ingress, egress = ours(); len(ingress)+len(egress) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("after the plane: %v on gift0 ingress, %v on gif0 egress; want none", ingress, egress)
	}

	cmd, stdin, out := planeProcess(t, a, kind.tc)
	first := started(nil)
	if got := kind.programs(t, a, "lo", tcIngress); len(got) != 0 {
		t.Fatalf("lo ingress holds %v, want nothing", got)
	}
	if _, err := b.Ping(context.Background(), "192.0.2.1", "-c", "3", "-i", "0.2"); err != nil {
		t.Fatalf("ping through the programs: %v", err)
	}
	var seen uint64
	if err := counts.Lookup(uint32(0), &seen); err != nil || seen < 3 {
		t.Fatalf("the foreign program saw %d packets (%v), want at least the 3 pings", seen, err)
	}

	// An underlay that comes up gets the program; down, loses it.
	if _, err := a.Run(context.Background(), "ip", "link", "add", "under1", "up", "type", "veth", "peer", "under2"); err != nil {
		t.Fatal(err)
	}
	waitPrograms(t, kind, a, "under1", tcIngress, 1)
	if _, err := a.Run(context.Background(), "ip", "link", "set", "under1", "down"); err != nil {
		t.Fatal(err)
	}
	waitPrograms(t, kind, a, "under1", tcIngress, 0)

	if end == "close" {
		stdin.Close()
		if !out.Scan() || out.Text() != "closed" {
			t.Fatalf("plane process: %q, %v", out.Text(), out.Err())
		}
		cmd.Wait()
		gone()
	} else {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if kind.tc.String() == "clsact" {
			if ingress, egress := ours(); !slices.Equal(append(ingress, egress...), first) {
				t.Fatalf("after kill -9: %v on gift0 ingress, %v on gif0 egress; want the killed plane's %v", ingress, egress, first)
			}
		} else {
			gone()
		}
	}

	// A plane that starts again replaces what the last one left.
	_, stdin, out = planeProcess(t, a, kind.tc)
	started(first)
	stdin.Close()
	if !out.Scan() || out.Text() != "closed" {
		t.Fatalf("plane process: %q, %v", out.Text(), out.Err())
	}
	gone()
	if kind.tc.String() == "clsact" && !hasClsact(t, a, "gift0") {
		t.Fatal("the foreign clsact qdisc of gift0 is gone")
	}
}

// waitPrograms waits until ifname in h has n programs on the hook, which
// the plane's goroutines attach or detach a moment later.
func waitPrograms(t *testing.T, kind attachKind, h *netns.Host, ifname string, hook tcHook, n int) {
	t.Helper()
	var got []ebpf.ProgramID
	for range 100 {
		if got = kind.programs(t, h, ifname, hook); len(got) == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s holds %d tc programs (%v), want %d", ifname, len(got), got, n)
}

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

// passProgram returns a tc program that passes every packet on (TC_ACT_UNSPEC).
func passProgram(t testing.TB) *ebpf.Program {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
	if err != nil {
		t.Fatalf("load a tc program: %v", err)
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
// closes the plane when its standard input ends.
func TestPlaneProcess(t *testing.T) {
	if os.Getenv(planeProcessEnv) == "" {
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	u := dataplane.NewUserspace(log)
	p, err := newPlane(u, log, passObjects(t))
	if err != nil {
		t.Fatal(err)
	}
	gif0 := p.Attach(linktest.New("gif0", 1), false, new(tunnel.Counters))
	waitUnderlay(p)
	waitEgress(p, gif0)
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	p.Close()
	fmt.Println("closed")
}

// waitUnderlay waits until p has attached its ingress program to an
// underlay interface, which it does a moment after it starts.
func waitUnderlay(p *Plane) {
	waitPlane(p, func() bool { return len(p.underlayAttached) > 0 })
}

// waitEgress waits until p has attached its egress program to ifc's
// device, which it does a moment after Attach.
func waitEgress(p *Plane, ifc *dataplane.Iface) {
	waitPlane(p, func() bool { _, ok := p.egresses[ifc]; return ok })
}

// waitPlane waits until done, called under p's lock, is true.
func waitPlane(p *Plane, done func() bool) {
	for {
		p.mu.Lock()
		ok := done()
		p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// planeProcess runs TestPlaneProcess in h and waits for it to be ready.
func planeProcess(t *testing.T, h *netns.Host) (cmd *exec.Cmd, stdin io.WriteCloser, out *bufio.Scanner) {
	t.Helper()
	return processIn(t, h, "TestPlaneProcess", planeProcessEnv)
}

// processIn runs the test binary's process test in h, with env set, and
// waits for it to say "ready".
func processIn(t *testing.T, h *netns.Host, test, env string) (cmd *exec.Cmd, stdin io.WriteCloser, out *bufio.Scanner) {
	t.Helper()
	cmd, err := tools.Command(context.Background(), "ip", "netns", "exec", h.Name(), os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), env+"=1")
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

// attached returns the ids of the tcx programs on ifname's ingress or
// egress (attach) in h.
func attached(t *testing.T, h *netns.Host, ifname string, attach ebpf.AttachType) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	err := h.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifc.Index, Attach: attach})
		if err != nil {
			return err
		}
		for _, p := range r.Programs {
			ids = append(ids, p.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("query the tc programs of %s in %s: %v", ifname, h, err)
	}
	return ids
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

// TestAttachments: the plane attaches its ingress program to the
// underlay beside a foreign one, which keeps seeing every packet, and
// its egress program to the gif; it follows interfaces that come up and
// go down; closing the plane, or killing its process, leaves only the
// foreign program.
func TestAttachments(t *testing.T) {
	for _, end := range []string{"close", "kill -9"} {
		t.Run(end, func(t *testing.T) {
			_, a, b := netnstest.NewPair(t)
			if _, err := a.Run(context.Background(), "ip", "tuntap", "add", "gif0", "mode", "tun"); err != nil {
				t.Fatal(err)
			}
			foreign, counts := countingProgram(t)
			err := a.Do(func() error {
				ifc, err := net.InterfaceByName("gift0")
				if err != nil {
					return err
				}
				l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: foreign, Attach: ebpf.AttachTCXIngress})
				if err != nil {
					return err
				}
				t.Cleanup(func() { l.Close() })
				return nil
			})
			if err != nil {
				t.Fatalf("attach the foreign program: %v", err)
			}
			info, err := foreign.Info()
			if err != nil {
				t.Fatal(err)
			}
			foreignID, _ := info.ID()

			cmd, stdin, out := planeProcess(t, a)
			ingress := attached(t, a, "gift0", ebpf.AttachTCXIngress)
			if len(ingress) != 2 || !slices.Contains(ingress, foreignID) {
				t.Fatalf("gift0 ingress holds %v, want the foreign program %d and the plane's", ingress, foreignID)
			}
			if got := attached(t, a, "gif0", ebpf.AttachTCXEgress); len(got) != 1 {
				t.Fatalf("gif0 egress holds %v, want the plane's program", got)
			}
			if got := attached(t, a, "lo", ebpf.AttachTCXIngress); len(got) != 0 {
				t.Fatalf("lo ingress holds %v, want nothing", got)
			}
			if _, err := b.Ping(context.Background(), "192.0.2.1", "-c", "3", "-i", "0.2"); err != nil {
				t.Fatalf("ping through both programs: %v", err)
			}
			var seen uint64
			if err := counts.Lookup(uint32(0), &seen); err != nil || seen < 3 {
				t.Fatalf("the foreign program saw %d packets (%v), want at least the 3 pings", seen, err)
			}

			// An underlay that comes up gets the program; down, loses it.
			if _, err := a.Run(context.Background(), "ip", "link", "add", "under1", "up", "type", "veth", "peer", "under2"); err != nil {
				t.Fatal(err)
			}
			waitAttached(t, a, "under1", ebpf.AttachTCXIngress, 1)
			if _, err := a.Run(context.Background(), "ip", "link", "set", "under1", "down"); err != nil {
				t.Fatal(err)
			}
			waitAttached(t, a, "under1", ebpf.AttachTCXIngress, 0)

			if end == "close" {
				stdin.Close()
				if !out.Scan() || out.Text() != "closed" {
					t.Fatalf("plane process: %q, %v", out.Text(), out.Err())
				}
			} else {
				cmd.Process.Signal(syscall.SIGKILL)
			}
			cmd.Wait()
			waitAttached(t, a, "gift0", ebpf.AttachTCXIngress, 1)
			if got := attached(t, a, "gift0", ebpf.AttachTCXIngress); got[0] != foreignID {
				t.Fatalf("gift0 ingress holds %v, want the foreign program %d alone", got, foreignID)
			}
			waitAttached(t, a, "gif0", ebpf.AttachTCXEgress, 0)
		})
	}
}

// waitAttached waits until ifname in h has n tcx programs on attach
// (ingress or egress), which the plane's goroutines and the kernel's
// release of a dead process's links do a moment later.
func waitAttached(t *testing.T, h *netns.Host, ifname string, attach ebpf.AttachType, n int) {
	t.Helper()
	var got []ebpf.ProgramID
	for range 100 {
		if got = attached(t, h, ifname, attach); len(got) == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s holds %d tc programs (%v), want %d", ifname, len(got), got, n)
}

package kernel

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcHook is the side of an interface a program runs on.
type tcHook int

const (
	tcIngress tcHook = iota
	tcEgress
)

// attacher puts tc programs on interfaces, in one of the kernel's two
// ways: tcx links (Linux 6.6 and later) or cls_bpf filters under a clsact
// qdisc (before). Either runs beside the programs of others, which see
// every packet gif's programs pass on (TC_ACT_UNSPEC), and removes only
// its own.
type attacher interface {
	// start says why this attacher cannot work on this kernel, or
	// readies it for a new plane; New calls it once.
	start() error
	// attach runs prog on the hook of the interface ifindex until the
	// attachment returned is closed.
	attach(ifindex int, prog *ebpf.Program, hook tcHook) (attachment, error)
	fmt.Stringer
}

// attachment is a program attached to a hook of an interface.
type attachment interface {
	io.Closer
	// on reports whether the program is still attached to the interface
	// ifindex: the kernel detaches it when the interface goes away, and
	// another interface may take the index.
	on(ifindex int) bool
}

// attachers are the ways New tries, best first; tests put one alone.
var attachers = []attacher{tcxAttacher{}, clsactAttacher{}}

// chooseAttacher returns the first of attachers that starts, or why none
// does.
func chooseAttacher() (attacher, error) {
	var why error
	for _, a := range attachers {
		err := a.start()
		if err == nil {
			return a, nil
		}
		if why == nil {
			why = fmt.Errorf("%s: %w", a, err)
		} else {
			why = fmt.Errorf("%w; %s: %w", why, a, err)
		}
	}
	return nil, why
}

// newPassProgram loads a tc program that passes every packet on
// (TC_ACT_UNSPEC).
func newPassProgram() (*ebpf.Program, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
	if err != nil {
		return nil, fmt.Errorf("load a tc program: %w", err)
	}
	return prog, nil
}

// probeAttach attaches a program that passes everything on to the
// loopback's ingress with a and detaches it.
func probeAttach(a attacher) error {
	prog, err := newPassProgram()
	if err != nil {
		return err
	}
	defer prog.Close()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("find the loopback interface: %w", err)
	}
	c, err := a.attach(lo.Index, prog, tcIngress)
	if err != nil {
		return fmt.Errorf("attach a program to lo: %w", err)
	}
	return c.Close()
}

// tcxAttacher attaches with tcx links, held by this process and never
// pinned: when the process ends, stopped or killed, the kernel detaches
// them. tcx came with Linux 6.6.
type tcxAttacher struct{}

func (tcxAttacher) String() string { return "tcx" }

func (a tcxAttacher) start() error {
	if err := probeAttach(a); err != nil {
		return fmt.Errorf("Linux 6.6 or later: %w", err)
	}
	return nil
}

func (tcxAttacher) attach(ifindex int, prog *ebpf.Program, hook tcHook) (attachment, error) {
	at := ebpf.AttachTCXIngress
	if hook == tcEgress {
		at = ebpf.AttachTCXEgress
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: at})
	if err != nil {
		return nil, err
	}
	return tcxLink{l}, nil
}

// tcxLink is a tcx link held by this process.
type tcxLink struct{ link.Link }

// on asks the kernel which interface the link is attached to: none once
// that interface went away.
func (l tcxLink) on(ifindex int) bool {
	info, err := l.Info()
	return err == nil && info.TCX() != nil && info.TCX().Ifindex == uint32(ifindex)
}

// clsactAttacher attaches with direct-action cls_bpf filters under a
// clsact qdisc, for kernels without tcx. The filters are gif's by their
// priority, handle and name; unlike tcx links they outlive the process:
// a killed daemon leaves them on the underlay (its gifs' devices, and the
// filters on them, go with it) until the next start removes them. They
// then pass every packet on, those of the dead daemon's tunnels too: the
// programs that carry go with the daemon (bpf/gif.c says how), so the
// packets reach the kernel stack rather than gifs that are gone.
//
// gif adds the clsact qdisc where there is none and never removes it,
// not even when it added it: the qdisc holds nothing by itself, and
// another program may have put its filters under it since.
type clsactAttacher struct{}

const (
	// clsactPriority is the priority (tc's "pref", 49648) of gif's
	// filters: not one others pick (Cilium's default is 1, tc's
	// automatic priorities 49152 and below), and after theirs, as tcx
	// puts gif's programs after those already there.
	clsactPriority = 0xc1f0
	// clsactHandle is the handle of gif's one filter at its priority.
	clsactHandle = 1
)

func (clsactAttacher) String() string { return "clsact" }

// start removes what an earlier daemon left, then tries an attachment.
func (a clsactAttacher) start() error {
	if err := RemoveLeftovers(); err != nil {
		return err
	}
	return probeAttach(a)
}

func (clsactAttacher) attach(ifindex int, prog *ebpf.Program, hook tcHook) (attachment, error) {
	qdisc := &netlink.GenericQdisc{QdiscType: "clsact", QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := netlink.QdiscAdd(qdisc); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("add a clsact qdisc: %w", err)
	}
	f := ourFilter(ifindex, hook)
	f.Fd, f.DirectAction = prog.FD(), true
	if err := netlink.FilterAdd(f); err != nil {
		return nil, fmt.Errorf("add the cls_bpf filter %s pref %d: %w", f.Name, clsactPriority, err)
	}
	return clsactFilter{ifindex, hook}, nil
}

// ourFilter returns gif's filter on the hook of ifindex, the program left
// out.
func ourFilter(ifindex int, hook tcHook) *netlink.BpfFilter {
	parent, name := uint32(netlink.HANDLE_MIN_INGRESS), "gif_ingress"
	if hook == tcEgress {
		parent, name = netlink.HANDLE_MIN_EGRESS, "gif_egress"
	}
	return &netlink.BpfFilter{Name: name, Fd: -1, FilterAttrs: netlink.FilterAttrs{
		LinkIndex: ifindex, Parent: parent, Priority: clsactPriority, Handle: clsactHandle, Protocol: unix.ETH_P_ALL}}
}

// clsactFilter is gif's filter on a hook of an interface.
type clsactFilter struct {
	ifindex int
	hook    tcHook
}

// Close removes gif's filter, the one with its priority, handle and
// name, and no other.
func (c clsactFilter) Close() error {
	found, err := c.find()
	if err != nil || !found {
		return err
	}
	ours := ourFilter(c.ifindex, c.hook)
	if err := netlink.FilterDel(ours); err != nil {
		return fmt.Errorf("delete the cls_bpf filter %s pref %d of ifindex %d: %w", ours.Name, clsactPriority, c.ifindex, err)
	}
	return nil
}

// on looks for gif's filter on the interface: a filter goes with its
// interface.
func (c clsactFilter) on(ifindex int) bool {
	found, err := c.find()
	return err == nil && found && ifindex == c.ifindex
}

// find reports whether gif's filter is on the hook of the interface.
func (c clsactFilter) find() (bool, error) {
	ours := ourFilter(c.ifindex, c.hook)
	filters, err := netlink.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: c.ifindex}}, ours.Parent)
	if err != nil {
		return false, fmt.Errorf("list the tc filters of ifindex %d: %w", c.ifindex, err)
	}
	for _, f := range filters {
		bf, ok := f.(*netlink.BpfFilter)
		if ok && bf.Priority == ours.Priority && bf.Handle == ours.Handle && bf.Name == ours.Name {
			return true, nil
		}
	}
	return false, nil
}

// RemoveLeftovers removes the cls_bpf filters a gif daemon killed on a
// kernel without tcx left on this namespace's interfaces, and nothing
// else. They pass every packet on, but hold the place (priority and
// handle) of the new plane's filters, and the dead daemon's maps.
func RemoveLeftovers() error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("list the interfaces: %w", err)
	}
	var errs []error
	for _, l := range links {
		for _, hook := range []tcHook{tcIngress, tcEgress} {
			if err := (clsactFilter{l.Attrs().Index, hook}).Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

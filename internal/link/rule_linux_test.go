package link

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestDomainRules checks what the rules do to route lookups: a marked
// packet finds the routes of its table, and only those; an unmarked one
// the main table's.
func TestDomainRules(t *testing.T) {
	const domain = 100
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	mustNoErr(t, SetUp(dev.Name(), true))
	index, err := Index(dev.Name())
	mustNoErr(t, err)
	for _, r := range []struct {
		dst   string
		table int
	}{
		{"0.0.0.0/0", unix.RT_TABLE_MAIN}, {"::/0", unix.RT_TABLE_MAIN},
		{"198.51.100.0/24", domain}, {"2001:db8:100::/48", domain},
	} {
		dst := netip.MustParsePrefix(r.dst)
		ipnet := &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())}
		mustNoErr(t, netlink.RouteAdd(&netlink.Route{Dst: ipnet, LinkIndex: index, Table: r.table}))
	}
	// lookup reports the table that routes to dst a packet with mark, or
	// the error of the lookup.
	lookup := func(dst string, mark uint32) (int, error) {
		routes, err := netlink.RouteGetWithOptions(net.ParseIP(dst), &netlink.RouteGetOptions{Mark: mark})
		if err != nil {
			return 0, err
		}
		return routes[0].Table, nil
	}
	expect := func(when, dst string, mark uint32, wantTable int) {
		t.Helper()
		table, err := lookup(dst, mark)
		switch {
		case wantTable == 0 && !errors.Is(err, unix.ENETUNREACH):
			t.Errorf("%s: route to %s with mark %d: table %d, %v; want ENETUNREACH", when, dst, mark, table, err)
		case wantTable != 0 && (err != nil || table != wantTable):
			t.Errorf("%s: route to %s with mark %d: table %d, %v; want table %d", when, dst, mark, table, err, wantTable)
		}
	}
	main := unix.RT_TABLE_MAIN
	for _, dst := range []string{"198.51.100.7", "2001:db8:100::7"} {
		expect("without rules", dst, domain, main)
	}

	for _, family := range []int{4, 6} {
		mustNoErr(t, AddDomainRules(family, domain))
		mustNoErr(t, AddDomainRules(family, domain)) // already there: kept, not doubled
	}
	for _, c := range []struct {
		why       string
		dst       string
		mark      uint32
		wantTable int // 0: unreachable
	}{
		{"in the table", "198.51.100.7", domain, domain},
		{"in the table", "2001:db8:100::7", domain, domain},
		{"not in the table", "203.0.113.7", domain, 0},
		{"not in the table", "2001:db8:200::7", domain, 0},
		{"unmarked", "203.0.113.7", 0, main},
		{"another mark", "198.51.100.7", domain + 1, main},
	} {
		expect(c.why, c.dst, c.mark, c.wantTable)
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := netlink.RuleList(family)
		mustNoErr(t, err)
		var prios []int
		for _, r := range rules {
			if r.Mark == domain {
				prios = append(prios, r.Priority)
			}
		}
		if len(prios) != 2 || prios[0] != DomainRulePriority || prios[1] != DomainRulePriority+1 {
			t.Errorf("family %d: rules with mark %d at priorities %v, want %d and %d",
				family, domain, prios, DomainRulePriority, DomainRulePriority+1)
		}
	}

	for _, family := range []int{4, 6} {
		mustNoErr(t, DelDomainRules(family, domain))
		mustNoErr(t, DelDomainRules(family, domain)) // already gone
	}
	expect("after delete", "203.0.113.7", domain, main)
	expect("after delete", "2001:db8:200::7", domain, main)
}

func TestDomainRulesRefuseNoMark(t *testing.T) {
	inNewNetns(t)
	for _, c := range []struct{ family, domain int }{{4, 0}, {6, -1}, {5, 100}} {
		if err := AddDomainRules(c.family, c.domain); err == nil {
			t.Errorf("AddDomainRules(%d, %d) succeeded", c.family, c.domain)
		}
	}
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	mustNoErr(t, err)
	for _, r := range rules {
		if r.Priority == DomainRulePriority || r.Priority == DomainRulePriority+1 {
			t.Errorf("rule left behind: %v", r)
		}
	}
}

package link

import (
	"errors"
	"fmt"
	"math"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddDomainRules makes the packets of family (4 or 6) that carry the
// firewall mark domain use routing table domain and no other table, by
// adding two policy rules:
//
//	DomainRulePriority:   fwmark DOMAIN lookup DOMAIN
//	DomainRulePriority+1: fwmark DOMAIN unreachable
//
// The second keeps a destination that table domain has no route to from
// falling through to the main table. Rules that are already there (left by
// a daemon that was killed) are kept. Table domain itself is the
// administrator's to fill.
func AddDomainRules(family, domain int) error {
	rules, err := domainRules(family, domain)
	if err == nil {
		for i, r := range rules {
			if err = netlink.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
				err = errors.Join(err, delRules(rules[:i]))
				break
			}
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("add IPv%d rules for routing table %d: %w", family, domain, err)
	}
	return nil
}

// DelDomainRules removes the rules AddDomainRules adds. Rules that are
// already gone are no error.
func DelDomainRules(family, domain int) error {
	rules, err := domainRules(family, domain)
	if err == nil {
		err = delRules(rules)
	}
	if err != nil {
		return fmt.Errorf("delete IPv%d rules for routing table %d: %w", family, domain, err)
	}
	return nil
}

func delRules(rules []*netlink.Rule) error {
	var errs []error
	for _, r := range rules {
		if err := netlink.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// domainRules returns the rules of AddDomainRules.
func domainRules(family, domain int) ([]*netlink.Rule, error) {
	nlFamily := netlink.FAMILY_V4
	switch family {
	case 4:
	case 6:
		nlFamily = netlink.FAMILY_V6
	default:
		return nil, fmt.Errorf("family %d is neither 4 nor 6", family)
	}
	// Without a mark the rules would match every packet.
	if domain <= 0 || uint64(domain) > math.MaxUint32 {
		return nil, fmt.Errorf("routing table %d is not a mark 1..%d", domain, uint64(math.MaxUint32))
	}
	lookup := netlink.NewRule()
	lookup.Family, lookup.Priority = nlFamily, DomainRulePriority
	lookup.Mark, lookup.Table = uint32(domain), domain
	unreachable := netlink.NewRule()
	unreachable.Family, unreachable.Priority = nlFamily, DomainRulePriority+1
	unreachable.Mark, unreachable.Type = uint32(domain), unix.FR_ACT_UNREACHABLE
	return []*netlink.Rule{lookup, unreachable}, nil
}

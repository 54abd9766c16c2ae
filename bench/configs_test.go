package main

import (
	"slices"
	"strings"
	"testing"

	"gif/internal/control"
)

// TestConfigsFitUnderlay checks the MTU arithmetic: every tunnel's outer
// packet fits the veth, exactly for the clear gif modes.
func TestConfigsFitUnderlay(t *testing.T) {
	want := map[string]int{"ip4in4": 1480, "ip6in4": 1480, "ip4in6": 1460, "ip6in6": 1460, "etherip4": 1464, "etherip6": 1444,
		"ip4in4-kernel": 1480, "ip6in4-kernel": 1480, "ip4in6-kernel": 1460, "ip6in6-kernel": 1460, "veth-nooffload": 1500,
		"ip4in4-esp-gcm": 1400, "ip4in4-esp-cbc": 1400, "etherip4-esp-gcm": 1384, "etherip4-esp-cbc": 1384, "veth": 1500, "wireguard-go": 1420,
		"veth-seg1428": 1480, "veth-seg1408": 1460, "veth-seg1388": 1440}
	for _, c := range configs() {
		if c.MTU != want[c.Name] {
			t.Errorf("%s: MTU %d, want %d", c.Name, c.MTU, want[c.Name])
		}
		outer := c.MTU + c.Overhead
		for _, s := range []espSuite{espGCM, espDefault} {
			if strings.HasSuffix(c.Name, "-"+s.Name) {
				outer = espPacketLen(outer, s)
			}
		}
		if outer > underlayMTU {
			t.Errorf("%s: outer packets of %d bytes do not fit %d", c.Name, outer, underlayMTU)
		}
		if c.Daemon == "gif" && !strings.Contains(c.Name, "esp") && outer != underlayMTU {
			t.Errorf("%s: outer packets of %d bytes, want the underlay's %d", c.Name, outer, underlayMTU)
		}
	}
}

// TestTargetNamesExist: every configuration the targets name is run.
func TestTargetNamesExist(t *testing.T) {
	var names []string
	for _, c := range configs() {
		if slices.Contains(names, c.Name) {
			t.Errorf("two configurations called %s", c.Name)
		}
		names = append(names, c.Name)
	}
	if names[0] != vethName {
		t.Errorf("the first configuration is %s, want %s: the others are compared with it", names[0], vethName)
	}
	for _, group := range [][]string{gifModeNames, kernelModeNames, etherIPNames, espGCMNames, {vethName, vethNoOffloadName, wireguardName}} {
		for _, n := range group {
			if !slices.Contains(names, n) {
				t.Errorf("a target names %s, which no configuration is", n)
			}
		}
	}
}

// TestConfigPlanes: the IP modes run on both planes, the kernel rows named
// so, and every other gif configuration on the userspace plane, as before
// the kernel plane.
func TestConfigPlanes(t *testing.T) {
	kernel := 0
	for _, c := range configs() {
		switch {
		case c.Daemon != "gif":
			if c.Plane != "" {
				t.Errorf("%s: plane %q without a gif", c.Name, c.Plane)
			}
		case strings.HasSuffix(c.Name, kernelSuffix):
			kernel++
			if c.Plane != control.PlaneKernel {
				t.Errorf("%s: plane %q, want %q", c.Name, c.Plane, control.PlaneKernel)
			}
			if !slices.ContainsFunc(configs(), func(u config) bool {
				return u.Name == strings.TrimSuffix(c.Name, kernelSuffix) && u.Plane == control.PlaneUserspace
			}) {
				t.Errorf("%s has no userspace row to compare with", c.Name)
			}
		default:
			if c.Plane != control.PlaneUserspace {
				t.Errorf("%s: plane %q, want %q", c.Name, c.Plane, control.PlaneUserspace)
			}
		}
	}
	if kernel != len(ipModes) {
		t.Errorf("%d configurations on the kernel plane, want the %d IP modes", kernel, len(ipModes))
	}
}

// Package tools finds the external programs that gif's tests, the demo and
// the bench run, and knows the Debian package of each, so that a missing
// one fails with the command that installs it. Every such program is in
// Packages; a unit test checks that each package is in the Makefile's
// DEB_PKGS, the one list `make deps` and CI install, and that nothing
// outside this package runs a program by itself (os/exec).
package tools

import (
	"context"
	"fmt"
	"os/exec"
)

// Programs named by path: one off the PATH, and one whose copy on the PATH
// may be another.
const (
	// Charon is strongSwan's IKE daemon, the independent peer of gif's IKE.
	Charon = "/usr/lib/ipsec/charon"
	// ScapyPython is the interpreter Debian's python3-scapy is installed
	// for; the first python3 on the PATH may be another one.
	ScapyPython = "/usr/bin/python3"
)

// Packages maps each program, by name or by path, to the Debian packages
// that provide it, as apt-get install takes them.
var Packages = map[string]string{
	"ip":              "iproute2",
	"ss":              "iproute2",
	"bridge":          "iproute2",
	"ping":            "iputils-ping",
	"ethtool":         "ethtool",
	"sysctl":          "procps",
	"dumpcap":         "tshark",
	"tshark":          "tshark",
	"text2pcap":       "tshark",
	"iperf3":          "iperf3",
	"wg":              "wireguard-tools",
	ScapyPython:       "python3-scapy",
	"openssl":         "openssl",
	Charon:            "strongswan-charon libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins",
	"swanctl":         "strongswan-swanctl",
	"setpriv":         "util-linux",
	"unshare":         "util-linux",
	"mount":           "mount",
	"systemd-analyze": "systemd",
	"chattr":          "e2fsprogs",
	"git":             "git",
	"promtool":        "prometheus",
	"sh":              "dash",
	"bash":            "bash",
	"cat":             "coreutils",
	"env":             "coreutils",
	"sleep":           "coreutils",
}

// Path returns the path of program, or an error that names the Debian
// package to install. A program missing from Packages is an error too:
// add it there, so that the Makefile's list is checked against it.
func Path(program string) (string, error) {
	pkg, known := Packages[program]
	if !known {
		return "", fmt.Errorf("%s: not in tools.Packages, so nothing installs it: add it with its Debian package", program)
	}
	path, err := exec.LookPath(program)
	if err != nil {
		return "", fmt.Errorf("%s not found: apt-get install %s (make deps installs every test tool)", program, pkg)
	}
	return path, nil
}

// Command is exec.CommandContext for program, found with Path.
func Command(ctx context.Context, program string, args ...string) (*exec.Cmd, error) {
	path, err := Path(program)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, path, args...), nil
}

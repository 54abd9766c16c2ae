// Package tools finds the external programs that gif's tests, the demo and
// the bench run, and knows the Debian package of each, so that a missing
// one fails with the command that installs it. Every such program is in
// Packages; a unit test checks that each package is in the Makefile's
// DEB_PKGS, the one list `make deps` and CI install.
package tools

import (
	"context"
	"fmt"
	"os/exec"
)

// Packages maps each program to the Debian package that provides it.
var Packages = map[string]string{
	"ip":              "iproute2",
	"ss":              "iproute2",
	"bridge":          "iproute2",
	"ping":            "iputils-ping",
	"ethtool":         "ethtool",
	"dumpcap":         "tshark",
	"tshark":          "tshark",
	"text2pcap":       "tshark",
	"iperf3":          "iperf3",
	"python3":         "python3-scapy",
	"openssl":         "openssl",
	"charon":          "strongswan-charon",
	"swanctl":         "strongswan-swanctl",
	"setpriv":         "util-linux",
	"systemd-analyze": "systemd",
	"chattr":          "e2fsprogs",
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
		return "", fmt.Errorf("%s not found: install Debian package %s (make deps)", program, pkg)
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

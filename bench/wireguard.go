package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gif/internal/tools"
)

const (
	wireguardPort = 51820
	// wireguardOverhead is what WireGuard adds over IPv4: the outer
	// header, UDP, its 16-byte data header and 16-byte tag.
	wireguardOverhead = ipv4HeaderLen + 8 + 16 + 16
	// wireguardSocketDir holds wireguard-go's control sockets, NAME.sock.
	// Every namespace shares it, so the interface names of a run must
	// differ from each other and from those of any other wireguard-go.
	wireguardSocketDir = "/var/run/wireguard"
)

// wireguardIface names the interface of one side of the run: "wgb" with
// the process id, and the side.
func wireguardIface(side string) string {
	return fmt.Sprintf("wgb%d%s", os.Getpid()%100000, side)
}

// setupWireguard starts wireguard-go in the foreground on both hosts and
// configures each as the other's peer with wg(8).
func setupWireguard(ctx context.Context, p *pair, mtu int) error {
	type end struct {
		n                  *node
		name, inner, under string
		key, pub           string
	}
	ends := []*end{
		{n: p.a, name: wireguardIface("a"), inner: innerA4, under: underA4},
		{n: p.b, name: wireguardIface("b"), inner: innerB4, under: underB4},
	}
	for _, e := range ends {
		var err error
		if e.key, err = wg(ctx, "", "genkey"); err != nil {
			return err
		}
		if e.pub, err = wg(ctx, e.key, "pubkey"); err != nil {
			return err
		}
	}
	for i, e := range ends {
		peer := ends[1-i]
		if err := startWireguard(ctx, p, e.n, e.name); err != nil {
			return err
		}
		keyFile := filepath.Join(e.n.stateDir, "wireguard.key")
		if err := os.WriteFile(keyFile, []byte(e.key+"\n"), 0o600); err != nil {
			return fmt.Errorf("write wireguard key of %s: %w", e.n, err)
		}
		port := strconv.Itoa(wireguardPort)
		for _, args := range [][]string{
			{"wg", "set", e.name, "private-key", keyFile, "listen-port", port,
				"peer", peer.pub, "allowed-ips", peer.inner + "/32", "endpoint", peer.under + ":" + port},
			{"ip", "link", "set", e.name, "mtu", strconv.Itoa(mtu)},
			{"ip", "address", "add", e.inner + "/24", "dev", e.name},
			{"ip", "link", "set", e.name, "up"},
		} {
			if _, err := e.n.run(ctx, args[0], args[1:]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// startWireguard starts wireguard-go for interface name in n and waits
// until its control socket listens. The pair stops it on close, with
// SIGTERM so that it removes its socket.
func startWireguard(ctx context.Context, p *pair, n *node, name string) error {
	sock := filepath.Join(wireguardSocketDir, name+".sock")
	if _, err := os.Stat(sock); err == nil {
		return fmt.Errorf("start wireguard-go: %s exists: another wireguard-go uses %s, or one was killed; remove it", sock, name)
	}
	proc, err := n.Start("env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=verbose", n.tb.wireguard, "-f", name)
	if err != nil {
		return fmt.Errorf("start wireguard-go in %s: %w", n, err)
	}
	p.onClose(func() error {
		err := proc.Stop()
		if rmErr := os.Remove(sock); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return err
	})
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := proc.WaitFor(ctx, "UAPI listener started"); err != nil {
		return fmt.Errorf("start wireguard-go in %s: %w", n, err)
	}
	return nil
}

// wg runs wg(8) outside the hosts, with stdin as its standard input, and
// returns its output trimmed.
func wg(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd, err := tools.Command(ctx, "wg", args...)
	if err != nil {
		return "", err
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("wg %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

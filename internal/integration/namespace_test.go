package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gif/internal/tools"
)

// TestRecreatedNamespace deletes a named namespace whose daemon kept a
// gif, a sysctl value and IPsec keys, and adds one of the same name, which
// shares its state directory: the new namespace starts clean, the old
// state is moved aside, not deleted, and the daemon's log says where.
func TestRecreatedNamespace(t *testing.T) {
	name := fmt.Sprintf("gif-recreated-%d", os.Getpid())
	stateDir := t.TempDir()
	run := func(program string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd, err := tools.Command(ctx, program, args...)
		if err != nil {
			return "", err
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w: %s", program, strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	must := func(program string, args ...string) string {
		t.Helper()
		out, err := run(program, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gif := func(args ...string) string {
		t.Helper()
		return must("ip", append([]string{"netns", "exec", name, "env", "GIF_STATE_DIR=" + stateDir,
			"GIF_IKE_DIR=" + filepath.Join(stateDir, "isakmpd"), gifBin}, args...)...)
	}
	// killDaemon kills what runs in the namespace, the daemon, and waits
	// until it is gone.
	killDaemon := func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			pids := strings.Fields(must("ip", "netns", "pids", name))
			if len(pids) == 0 {
				return
			}
			for _, p := range pids {
				if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		t.Fatalf("the daemon in %s does not die", name)
	}
	t.Cleanup(func() {
		if out, err := run("ip", "netns", "pids", name); err == nil {
			for _, p := range strings.Fields(out) {
				if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if _, err := run("ip", "netns", "delete", name); err != nil {
				t.Error(err)
			}
		}
	})
	conf := filepath.Join(t.TempDir(), "ipsec.conf")
	rules := "esp from 192.0.2.1 to 192.0.2.2 spi 0x4242 authkey " + strings.Repeat("11", 32) + " enckey " + strings.Repeat("33", 16) + "\n"
	if err := os.WriteFile(conf, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}

	must("ip", "netns", "add", name)
	gif("ifconfig", "gif0", "tunnel", "192.0.2.1", "192.0.2.2", "inet", "198.51.100.1", "198.51.100.2")
	gif("sysctl", "net.inet.ipip.allow=1")
	gif("ipsecctl", "-f", conf)
	// A daemon restarted in the same namespace restores its state.
	killDaemon()
	if out := gif("ifconfig", "gif0"); !strings.Contains(out, "198.51.100.1") {
		t.Fatalf("after a restart in the same namespace, gif0 is not restored:\n%s", out)
	}

	killDaemon()
	must("ip", "netns", "delete", name)
	must("ip", "netns", "add", name)
	if out := gif("ifconfig", "-a"); strings.Contains(out, "gif0") {
		t.Errorf("a new namespace of the same name inherited gif0:\n%s", out)
	}
	if out := gif("sysctl", "net.inet.ipip.allow"); strings.TrimSpace(out) != "net.inet.ipip.allow=0" {
		t.Errorf("a new namespace of the same name inherited %s", out)
	}
	if out := gif("ipsecctl", "-s", "all"); strings.Contains(out, "0x00004242") {
		t.Errorf("a new namespace of the same name inherited the IPsec keys:\n%s", out)
	}
	aside, err := filepath.Glob(filepath.Join(stateDir, "deleted-netns-*"))
	if err != nil || len(aside) != 1 {
		t.Fatalf("state set aside in %q (%v), want one directory", aside, err)
	}
	for _, file := range []string{"state.json", "ipsec.json"} {
		if _, err := os.Stat(filepath.Join(aside[0], file)); err != nil {
			t.Errorf("%s not set aside: %v", file, err)
		}
	}
	log, err := os.ReadFile(filepath.Join(stateDir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "moved aside"; strings.Count(string(log), want) != 1 || !strings.Contains(string(log), aside[0]) {
		t.Errorf("the daemon log does not say once that the state was %s to %s:\n%s", want, aside[0], log)
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gif/internal/tools"

	"golang.org/x/sys/unix"
)

// TestRefusedChangeLeavesLinux checks that a change whose file the disk
// refuses (a full file system, an immutable directory) is refused whole:
// the command fails naming the file and the cause, Linux is byte for byte
// as it was (a destroyed gif is not brought back under a new index, which
// would lose the routes through it) and the daemon still answers.
func TestRefusedChangeLeavesLinux(t *testing.T) {
	for _, tc := range []struct {
		name       string
		unwritable func(t *testing.T, dir string)
	}{
		{"full", fillUp},
		{"immutable", makeImmutable},
		{"immutable files", func(t *testing.T, dir string) {
			makeImmutable(t, filepath.Join(dir, "state.json"))
			makeImmutable(t, filepath.Join(dir, "ipsec.json"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newPair(t)
			// The state directory is on a small file system of its own,
			// which is there before the daemon starts.
			a.stateDir = filepath.Join(mountTmpfs(t, "size=64k"), "state")
			if err := os.Mkdir(a.stateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			conf := t.TempDir()
			base, other := filepath.Join(conf, "base.conf"), filepath.Join(conf, "other.conf")
			for file, spi := range map[string]string{base: "0x4242", other: "0x4343"} {
				rules := "esp from " + outerA4 + " to " + outerB4 + " spi " + spi + " authkey " + strings.Repeat("11", 32) +
					" enckey " + strings.Repeat("33", 16) + "\nflow esp proto etherip from " + outerA4 + " to " + outerB4 + "\n"
				if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4, "inet", innerA4, innerB4, "up")
			a.sh("ip", "route", "add", "198.51.100.128/25", "dev", "gif0")
			a.gif("ifconfig", "gif1", "tunnel", outerA6, outerB6, "up")
			a.gif("ifconfig", "bridge0", "add", "gif1", "up")
			a.gif("ifconfig", "gif2", "tunnel", outerA4, "192.0.2.3")
			a.gif("ipsecctl", "-f", base)
			before := settledView(t, a)

			tc.unwritable(t, a.stateDir)
			for _, change := range []struct {
				args []string
				file string // that the change stores
			}{
				{[]string{"ifconfig", "gif3", "create"}, "state.json"},
				{[]string{"ifconfig", "gif0", "destroy"}, "state.json"},
				{[]string{"ifconfig", "gif0", "tunnel", outerA4, "192.0.2.9"}, "state.json"},
				{[]string{"ifconfig", "gif0", "inet6", innerA6, innerB6, "prefixlen", "128"}, "state.json"},
				{[]string{"ifconfig", "gif0", "mtu", "1400"}, "state.json"},
				{[]string{"ifconfig", "bridge0", "add", "gif2"}, "state.json"},
				{[]string{"ifconfig", "bridge0", "del", "gif1"}, "state.json"},
				{[]string{"sysctl", "net.inet.ipip.allow=2"}, "state.json"},
				{[]string{"ipsecctl", "-f", other}, "ipsec.json"},
				{[]string{"ipsecctl", "-d", "-f", base}, "ipsec.json"},
			} {
				cmd := "gif " + strings.Join(change.args, " ")
				_, err := a.gifTry(change.args...)
				want := "store " + filepath.Join(a.stateDir, change.file) + ": "
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ": nothing changed") {
					t.Errorf("%s: %v\nwant an error %s<cause>: nothing changed", cmd, err, want)
				}
				if after := view(t, a); after != before {
					t.Errorf("%s changed what Linux or the daemon show:\n%s", cmd, diffLines(before, after))
				}
			}
		})
	}
}

// view is what Linux shows of a's interfaces, addresses and routes, and
// what its daemon shows of its configuration; asking the daemon also
// proves it alive. The bridge's timers, which count on by themselves, are
// left out.
func view(t *testing.T, a *node) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-d", "link"}, {"addr"}, {"route"}, {"-6", "route"}} {
		b.WriteString(a.sh("ip", args...))
	}
	for _, args := range [][]string{{"ifconfig", "-a"}, {"sysctl", "net.inet.ipip.allow", "net.inet.etherip.allow"}, {"ipsecctl", "-s", "all"}} {
		b.WriteString(a.gif(args...))
	}
	return bridgeTimers.ReplaceAllString(b.String(), "$1 -")
}

var bridgeTimers = regexp.MustCompile(`(\w+_timer)\s+[0-9.]+`)

// settledView returns a's view once no IPv6 address is tentative (still
// in duplicate address detection) and two looks a moment apart agree: a
// configuration change goes on changing it for a while (the bridge's
// ports, addresses coming up).
func settledView(t *testing.T, a *node) string {
	t.Helper()
	prev := view(t, a)
	for range 40 {
		time.Sleep(250 * time.Millisecond)
		cur := view(t, a)
		if cur == prev && !strings.Contains(cur, " tentative") {
			return cur
		}
		prev = cur
	}
	t.Fatalf("what %s shows does not settle:\n%s", a.Name(), prev)
	return ""
}

// diffLines lists the lines of before missing from after and those new in
// after.
func diffLines(before, after string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	was, is := in(before), in(after)
	var out []string
	for _, l := range strings.Split(before, "\n") {
		if !is[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(after, "\n") {
		if !was[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// mountTmpfs mounts a tmpfs with the given options on a new directory and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, options string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillUp fills the file system of dir.
func fillUp(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return
		}
	}
}

// makeImmutable sets the immutable attribute (chattr +i) on path: no file
// can be made, removed or renamed in a directory that has it, and a file
// that has it cannot be changed or replaced, even by root. It is cleared
// when the test ends, failed or not.
func makeImmutable(t *testing.T, path string) {
	t.Helper()
	chattr := func(flag string) error {
		cmd, err := tools.Command(context.Background(), "chattr", flag, path)
		if err != nil {
			return err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chattr %s %s: %w: %s", flag, path, err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		if err := chattr("-i"); err != nil {
			t.Error(err)
		}
	})
	if err := chattr("+i"); err != nil {
		t.Fatal(err)
	}
}

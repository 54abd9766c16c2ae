package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"gif/internal/tools"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestNamespaceIDRules checks the rules on plain files: hard links stand
// for two paths to one namespace.
func TestNamespaceIDRules(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(oldname, newname string) {
		if err := os.Link(oldname, newname); err != nil {
			t.Fatal(err)
		}
	}
	self := file("self")
	var st syscall.Stat_t
	if err := syscall.Stat(self, &st); err != nil {
		t.Fatal(err)
	}
	other := file("other")
	named := filepath.Join(dir, "netns")
	if err := os.Mkdir(named, 0o700); err != nil {
		t.Fatal(err)
	}
	sameAsSelf := filepath.Join(dir, "init-same")
	link(self, sameAsSelf)

	id := func(s namespaceSources) string {
		t.Helper()
		got, err := s.id()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := id(namespaceSources{self: self, init: sameAsSelf, named: filepath.Join(dir, "missing")}); got != "default" {
		t.Errorf("namespace of PID 1 without /run/netns: %q, want default", got)
	}
	want := fmt.Sprintf("netns-%d", st.Ino)
	if got := id(namespaceSources{self: self, init: other, named: named}); got != want {
		t.Errorf("unnamed namespace: %q, want %q", got, want)
	}
	link(other, filepath.Join(named, "aaa-other"))
	link(self, filepath.Join(named, "red"))
	link(self, filepath.Join(named, "blue"))
	if got := id(namespaceSources{self: self, init: sameAsSelf, named: named}); got != "blue" {
		t.Errorf("named namespace: %q, want blue (the first of its names)", got)
	}
	if _, err := (namespaceSources{self: filepath.Join(dir, "gone"), init: other, named: named}).id(); err == nil {
		t.Error("no error when the namespace cannot be read")
	}
}

// onThreadIn runs fn on a thread in the network namespace ns. The thread
// stays locked and is discarded.
func onThreadIn(t *testing.T, ns func() (netns.NsHandle, error), fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := ns()
		if err != nil {
			t.Error(err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Errorf("enter network namespace: %v", err)
			return
		}
		fn()
	}()
	<-done
}

func TestNamespaceIDNamed(t *testing.T) {
	name := fmt.Sprintf("gif-state-test-%d", os.Getpid())
	ip := func(args ...string) error {
		cmd, err := tools.Command(context.Background(), "ip", args...)
		if err != nil {
			return err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("netns", "add", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ip("netns", "delete", name); err != nil {
			t.Error(err)
		}
	})
	t.Setenv(DirEnv, "")
	onThreadIn(t, func() (netns.NsHandle, error) { return netns.GetFromName(name) }, func() {
		if got, err := NamespaceID(); err != nil || got != name {
			t.Errorf("NamespaceID() = %q, %v in namespace %s", got, err, name)
		}
		if dir, err := Dir(); err != nil || dir != "/var/lib/gif/"+name {
			t.Errorf("Dir() = %q, %v in namespace %s", dir, err, name)
		}
	})
}

func TestNamespaceIDUnnamed(t *testing.T) {
	onThreadIn(t, netns.New, func() {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Error(err)
			return
		}
		got, err := NamespaceID()
		if want := fmt.Sprintf("netns-%d", st.Ino); err != nil || got != want {
			t.Errorf("NamespaceID() = %q, %v in a new unnamed namespace, want %q", got, err, want)
		}
	})
}

// TestOwnerOfRecreatedNamespace deletes a named namespace and adds one of
// the same name: the second does not own what the first wrote, a daemon
// restart in the first would.
func TestOwnerOfRecreatedNamespace(t *testing.T) {
	name := fmt.Sprintf("gif-owner-test-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		cmd, err := tools.Command(context.Background(), "ip", args...)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		if cmd, err := tools.Command(context.Background(), "ip", "netns", "delete", name); err == nil {
			cmd.Run() // gone already when the test got that far
		}
	})
	dir := t.TempDir()
	files := []string{"state.json"}
	ownerIn := func() Owner {
		t.Helper()
		var o Owner
		onThreadIn(t, func() (netns.NsHandle, error) { return netns.GetFromName(name) }, func() {
			var err error
			if o, err = CurrentOwner(); err != nil {
				t.Error(err)
			}
		})
		return o
	}

	ip("netns", "add", name)
	first := ownerIn()
	if again := ownerIn(); again != first || first.Boot == "" || first.Cookie == 0 {
		t.Fatalf("owner of one namespace: %+v, then %+v", first, again)
	}
	if err := RecordOwner(dir, first); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(dir, "state.json"), "gif0"); err != nil {
		t.Fatal(err)
	}
	if aside, err := SetAsideForeign(dir, first, files); err != nil || aside != "" {
		t.Fatalf("the namespace that wrote the state: moved to %q, %v", aside, err)
	}

	ip("netns", "delete", name)
	ip("netns", "add", name)
	second := ownerIn()
	if second.Boot != first.Boot || second.Cookie == first.Cookie {
		t.Fatalf("namespace %s added again is %+v, the deleted one was %+v", name, second, first)
	}
	aside, err := SetAsideForeign(dir, second, files)
	if err != nil || aside == "" {
		t.Fatalf("a new namespace of the same name: moved to %q, %v", aside, err)
	}
	var got string
	if err := Load(filepath.Join(aside, "state.json"), &got); err != nil || got != "gif0" {
		t.Errorf("state moved aside: %q, %v", got, err)
	}
}

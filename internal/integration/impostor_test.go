package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gif/internal/control"
	"gif/internal/netns/netnstest"
)

// impostorArg, as the test binary's only argument, makes it run
// runImpostor instead of the tests.
const impostorArg = "gif-integration-impostor"

// runImpostor listens on the control socket's name as a plain Unix socket,
// not a gif daemon, and prints what each connection sent. It reads one
// connection after the other, so a connection's line follows those of
// every earlier one.
func runImpostor() {
	l, err := net.Listen("unix", "@"+control.SocketName())
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("impostor listening pid=%d\n", os.Getpid())
	for {
		conn, err := l.Accept()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(conn)
		fmt.Printf("received %q (%v)\n", got, err)
		conn.Close()
	}
}

// impostorCopy copies the test binary where nobody can run it.
func impostorCopy(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "impostor")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestImpostorOnControlSocket: while no daemon runs, an unprivileged
// process takes the control socket's name in the namespace. Every gif
// command run as root there refuses it by pid and uid, exits non-zero and
// sends it nothing: not ipsecctl's keys, not even a ping. None tries to
// start a daemon.
func TestImpostorOnControlSocket(t *testing.T) {
	lab := netnstest.NewLab(t, "gifi")
	n := newNode(t, lab, "a")
	impostor, err := n.Start("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", impostorCopy(t), impostorArg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := impostor.WaitFor(ctx, "impostor listening"); err != nil {
		t.Fatalf("%v: %s", err, impostor.Output())
	}
	pid := regexp.MustCompile(`pid=(\d+)`).FindStringSubmatch(impostor.Output())[1]
	refusal := "@" + control.DefaultSocketName + " is held by pid " + pid + " (uid 65534, impostor), not by a root gif daemon"

	dir := writeFiles(t, map[string]string{
		"ipsec.conf":    "esp from 192.0.2.1 to 192.0.2.2 spi 0x4242 authkey " + strings.Repeat("11", 32) + " enckey " + strings.Repeat("33", 16) + "\n",
		"hostname.gif0": "tunnel 192.0.2.1 192.0.2.2\nup\n",
	})
	conf := filepath.Join(dir, "ipsec.conf")
	if err := os.Chmod(conf, 0o600); err != nil { // it holds keys
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ifconfig", "gif0", "create"},
		{"ifconfig", "gif0"},
		{"ifconfig"},
		{"sysctl", "net.inet.ipip.allow"},
		{"sysctl", "net.inet.ipip.allow=1"},
		{"ipsecctl", "-f", conf},
		{"ipsecctl", "-s", "all"},
		{"netstart", "-d", dir, "gif0"},
		{"netstat", "-s"},
		{"netstat", "-i"},
		{"daemon"},
	} {
		out, err := n.gifTry(args...)
		if err == nil {
			t.Errorf("gif %s succeeded with an impostor on the socket: %s", strings.Join(args, " "), out)
		} else if t.Logf("gif %s: %v", strings.Join(args, " "), err); !strings.Contains(err.Error(), refusal) {
			t.Errorf("gif %s: error %q lacks %q", strings.Join(args, " "), err, refusal)
		}
	}

	// Starting a daemon would have opened its log.
	if _, err := os.Stat(filepath.Join(n.stateDir, "daemon.log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a command tried to start a daemon: daemon.log: %v", err)
	}

	// A marker connection after all others: the impostor reads connections
	// in order, so once it has printed the marker it has printed them all.
	if err := n.Do(func() error {
		conn, err := net.Dial("unix", "@"+control.DefaultSocketName)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = io.WriteString(conn, "marker")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := impostor.WaitFor(ctx, `received "marker"`); err != nil {
		t.Fatalf("%v: %s", err, impostor.Output())
	}
	for _, line := range strings.Split(strings.TrimSpace(impostor.Output()), "\n") {
		if !strings.HasPrefix(line, "impostor listening") && !strings.HasPrefix(line, `received "" `) && !strings.HasPrefix(line, `received "marker"`) {
			t.Errorf("the impostor received something: %s", line)
		}
	}
}

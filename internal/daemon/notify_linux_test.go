package daemon

import (
	"net"
	"path/filepath"
	"testing"
)

func TestNotifySystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := notifySystemd("READY=1"); err != nil {
		t.Fatalf("without systemd: %v", err)
	}
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@gif-test-notify"} {
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", name)
		if err := notifySystemd("READY=1"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		buf := make([]byte, 64)
		n, err := l.Read(buf)
		l.Close()
		if err != nil || string(buf[:n]) != "READY=1" {
			t.Fatalf("%s: systemd got %q, %v", name, buf[:n], err)
		}
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody"))
	if err := notifySystemd("READY=1"); err == nil {
		t.Fatal("no error when nothing listens")
	}
}

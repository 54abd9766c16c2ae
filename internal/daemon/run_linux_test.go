package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"gif/internal/daemon"
	"gif/internal/dataplane"
	"gif/internal/dataplane/kernel"
	"gif/internal/link/linktest"
	"gif/internal/netns/netnstest"
	"gif/internal/tools"
	"gif/internal/tunnel"
)

// openPlaneEnv makes the test binary run TestOpenPlaneProcess.
const openPlaneEnv = "GIF_OPEN_PLANE_PROCESS"

// TestOpenPlaneProcess is not a test: run by TestOpenPlane inside a
// namespace (the kernel plane attaches to every interface there), it
// prints the type of the plane Run opens and what it logged.
func TestOpenPlaneProcess(t *testing.T) {
	if os.Getenv(openPlaneEnv) == "" {
		return
	}
	var logged bytes.Buffer
	p := daemon.OpenPlane(slog.New(slog.NewTextHandler(&logged, nil)), true)
	fmt.Printf("%T %s", p, logged.String())
	p.Close()
}

// TestOpenPlane: Run opens the kernel plane where BPF runs (this machine,
// as root); without CAP_BPF and CAP_SYS_ADMIN, and with GIF_KERNEL_PLANE=0,
// the userspace plane alone, whose gifs say why they are not on the
// kernel plane.
func TestOpenPlane(t *testing.T) {
	h, err := netnstest.NewLab(t, "gifp").Host("a")
	if err != nil {
		t.Fatal(err)
	}
	setpriv, err := tools.Path("setpriv")
	if err != nil {
		t.Fatal(err)
	}
	openIn := func(argv ...string) string {
		t.Helper()
		argv = append(argv, os.Args[0], "-test.run=^TestOpenPlaneProcess$", "-test.count=1")
		cmd, err := tools.Command(context.Background(), "ip", append([]string{"netns", "exec", h.Name()}, argv...)...)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), openPlaneEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		return string(out)
	}
	if out := openIn(); !strings.HasPrefix(out, "*kernel.Plane ") {
		t.Errorf("Run's plane: %s; want *kernel.Plane", out)
	}
	// Without the capabilities, the userspace plane, and one warning that
	// says why.
	out := openIn(setpriv, "--bounding-set=-bpf,-sys_admin,-perfmon")
	if !strings.HasPrefix(out, "daemon.userspaceOnly ") || strings.Count(out, "level=WARN") != 1 ||
		!strings.Contains(out, "kernel data plane unavailable") || !strings.Contains(out, "CAP_BPF") {
		t.Errorf("Run's plane without CAP_BPF and CAP_SYS_ADMIN: %s; want the userspace plane and one warning naming them", out)
	}

	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	t.Setenv(daemon.KernelPlaneEnv, "0")
	useKernel, err := daemon.KernelPlaneWanted()
	if err != nil || useKernel {
		t.Fatalf("%s=0: kernel plane wanted %v, %v; want false, nil", daemon.KernelPlaneEnv, useKernel, err)
	}
	p := daemon.OpenPlane(log, useKernel)
	defer p.Close()
	if _, ok := p.(*kernel.Plane); ok {
		t.Fatalf("with %s=0 Run's plane is the kernel plane", daemon.KernelPlaneEnv)
	}
	ifc := p.Attach(linktest.New("gif0", 1), false, new(tunnel.Counters))
	defer ifc.Detach()
	if got, want := ifc.PlaneState(), (dataplane.PlaneState{Why: daemon.KernelPlaneEnv + "=0"}); got != want {
		t.Errorf("gif0's plane: %+v; want %+v", got, want)
	}
	if strings.Contains(logged.String(), "unavailable") {
		t.Errorf("the daemon said the kernel plane is unavailable: %s", logged.String())
	}
}

// TestKernelPlaneWanted: GIF_KERNEL_PLANE takes 0 or 1 (or nothing), and
// any other value is refused, naming the variable and the value.
func TestKernelPlaneWanted(t *testing.T) {
	for _, c := range []struct {
		value string
		want  bool
	}{{"", true}, {"1", true}, {"0", false}} {
		t.Setenv(daemon.KernelPlaneEnv, c.value)
		if got, err := daemon.KernelPlaneWanted(); err != nil || got != c.want {
			t.Errorf("%s=%q: %v, %v; want %v", daemon.KernelPlaneEnv, c.value, got, err, c.want)
		}
	}
	for _, bad := range []string{"no", "false", "2", " 0"} {
		t.Setenv(daemon.KernelPlaneEnv, bad)
		_, err := daemon.KernelPlaneWanted()
		if err == nil || !strings.Contains(err.Error(), daemon.KernelPlaneEnv) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("%s=%q: %v; want an error naming the variable and the value", daemon.KernelPlaneEnv, bad, err)
		}
	}
}

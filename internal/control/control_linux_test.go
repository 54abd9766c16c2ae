package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "GIF_CONTROL_TEST_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "call":
		// Print what a client gets back.
		_, err := Call(context.Background(), SocketName(), "echo", nil, nil)
		fmt.Println(err)
		os.Exit(0)
	case "daemon":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		l, err := Listen(SocketName())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "helper daemon listening")
		Serve(ctx, l, HandlerFunc(func(context.Context, string, json.RawMessage) (any, []string, error) {
			return "ok", nil, nil
		}))
		os.Exit(0)
	case "impostor":
		runImpostor()
	case "squatter":
		// Binds the name without listening: connect(2) is refused.
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + SocketName()})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("squatting")
		time.Sleep(time.Minute)
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "helper: open /dev/net/tun: boom")
		os.Exit(3)
	case "hang":
		fmt.Fprintf(os.Stderr, "helper hanging pid=%d\n", os.Getpid())
		time.Sleep(time.Minute)
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

// runImpostor listens on SocketName() as a plain Unix socket, not a gif
// daemon, and prints what each connection sent, one connection after the
// other, so a connection's line follows those of every earlier one.
func runImpostor() {
	l, err := net.Listen("unix", "@"+SocketName())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("impostor listening")
	for {
		conn, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(conn)
		fmt.Printf("received %q (%v)\n", got, err)
		conn.Close()
	}
}

// testName returns a socket name no other test and no real daemon uses.
func testName(t *testing.T) string {
	return fmt.Sprintf("gif-test/%d/%s", os.Getpid(), t.Name())
}

// serve listens on name in the calling thread's namespace and serves h
// until the test ends.
func serve(t *testing.T, name string, h Handler) {
	t.Helper()
	l, err := Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// echo answers method "echo" with its params and fails every other method.
var echo = HandlerFunc(func(_ context.Context, method string, params json.RawMessage) (any, []string, error) {
	if method != "echo" {
		return nil, nil, fmt.Errorf("unknown method %q", method)
	}
	return params, nil, nil
})

// rawCall sends request as it is and returns the decoded response.
func rawCall(t *testing.T, name string, request []byte) Response {
	t.Helper()
	conn, err := dial(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(request) // The server may answer without reading it all.
	var resp Response
	if err := readMessage(conn, MaxResponseSize, &resp); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

func TestRoundTrip(t *testing.T) {
	name := testName(t)
	serve(t, name, echo)
	ctx := context.Background()

	type point struct {
		X, Y int
		Name string
	}
	in := point{X: 1, Y: -2, Name: "gif0 \"quoted\"\nnewline"}
	var out point
	warnings, err := Call(ctx, name, "echo", in, &out)
	if err != nil || warnings != nil {
		t.Fatalf("Call = %q, %v", warnings, err)
	}
	if out != in {
		t.Errorf("result %+v, want %+v", out, in)
	}

	// No params: the handler gets none and returns null.
	out = point{X: 7}
	if _, err := Call(ctx, name, "echo", nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.X != 7 {
		t.Errorf("a null result changed the result to %+v", out)
	}
	if _, err := Call(ctx, name, "echo", in, nil); err != nil {
		t.Errorf("Call with nil result: %v", err)
	}

	var pong PingResult
	if _, err := Call(ctx, "@"+name, MethodPing, nil, &pong); err != nil {
		t.Fatalf("ping with leading @: %v", err)
	}
	if pong.PID != os.Getpid() {
		t.Errorf("ping answered pid %d, want %d", pong.PID, os.Getpid())
	}
}

func TestErrorsAndWarnings(t *testing.T) {
	name := testName(t)
	serve(t, name, HandlerFunc(func(_ context.Context, method string, _ json.RawMessage) (any, []string, error) {
		switch method {
		case "warn":
			return 42, []string{"gif0: mtu lowered to 1280"}, nil
		case "fail":
			return nil, []string{"gif1: tunnel has no destination"}, errors.New("gif1: no such interface")
		case "unencodable":
			return make(chan int), nil, nil
		}
		return nil, nil, fmt.Errorf("unknown method %q", method)
	}))
	ctx := context.Background()

	var n int
	warnings, err := Call(ctx, name, "warn", nil, &n)
	if err != nil || n != 42 || len(warnings) != 1 || warnings[0] != "gif0: mtu lowered to 1280" {
		t.Errorf("warn: %d, %q, %v", n, warnings, err)
	}

	warnings, err = Call(ctx, name, "fail", nil, nil)
	if err == nil || err.Error() != "gif1: no such interface" {
		t.Errorf("fail: error %v", err)
	}
	if len(warnings) != 1 || warnings[0] != "gif1: tunnel has no destination" {
		t.Errorf("fail: warnings %q", warnings)
	}

	if _, err := Call(ctx, name, "unencodable", nil, nil); err == nil || !strings.Contains(err.Error(), "encode result of unencodable") {
		t.Errorf("unencodable: error %v", err)
	}

	var wrongType string
	if _, err := Call(ctx, name, "warn", nil, &wrongType); err == nil || !strings.Contains(err.Error(), "decode result of warn") {
		t.Errorf("decoding a number into a string: error %v", err)
	}

	if _, err := Call(ctx, name, "echo", make(chan int), nil); err == nil || !strings.Contains(err.Error(), "encode parameters of echo") {
		t.Errorf("unencodable params: error %v", err)
	}

	for request, want := range map[string]string{
		"{\"method\":\"\"}\n":     "request has no method",
		"{\"method\":\n":          "read request: unexpected end of JSON input",
		"{\"method\":\"ping\"}":   "read request: message is not ended by a newline",
		"":                        "read request: unexpected EOF",
		"[\"ping\"]\n":            "read request: json: cannot unmarshal array",
		"{\"method\":\"nope\"}\n": `unknown method "nope"`,
	} {
		// Half-close so the server sees the end of a short request.
		conn, err := dial(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, request)
		conn.(*net.UnixConn).CloseWrite()
		var resp Response
		if err := readMessage(conn, MaxResponseSize, &resp); err != nil {
			t.Fatalf("%q: read response: %v", request, err)
		}
		conn.Close()
		if !strings.HasPrefix(resp.Error, want) {
			t.Errorf("%q: error %q, want prefix %q", request, resp.Error, want)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	name := testName(t)
	serve(t, name, HandlerFunc(func(_ context.Context, _ string, params json.RawMessage) (any, []string, error) {
		return len(params), nil, nil
	}))
	ctx := context.Background()

	// A request of exactly MaxRequestSize bytes, newline included, passes.
	overhead, _ := encodeMessage(Request{Method: "len", Params: json.RawMessage(`""`)})
	fits := strings.Repeat("x", MaxRequestSize-len(overhead))
	var n int
	if _, err := Call(ctx, name, "len", fits, &n); err != nil {
		t.Fatalf("request of MaxRequestSize bytes: %v", err)
	}
	if n != len(fits)+2 {
		t.Errorf("handler got %d bytes of params, want %d", n, len(fits)+2)
	}

	// One byte more is refused by the client before it connects...
	_, err := Call(ctx, name, "len", fits+"x", nil)
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("request of MaxRequestSize+1 bytes: error %v", err)
	}
	// ...and by the server from any other client, without reading it all.
	huge := make([]byte, 4*MaxRequestSize)
	for i := range huge {
		huge[i] = 'x'
	}
	resp := rawCall(t, name, huge)
	if want := fmt.Sprintf("read request: message is larger than %d bytes", MaxRequestSize); resp.Error != want {
		t.Errorf("oversized request: error %q, want %q", resp.Error, want)
	}
}

func TestReadDeadline(t *testing.T) {
	defer func(saved time.Duration) { requestTimeout = saved }(requestTimeout)
	requestTimeout = 100 * time.Millisecond
	name := testName(t)
	serve(t, name, echo)

	start := time.Now()
	resp := rawCall(t, name, nil) // connects and sends nothing
	if !strings.Contains(resp.Error, "i/o timeout") {
		t.Errorf("silent client: error %q, want a timeout", resp.Error)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent client was cut off after %v, want about %v", d, requestTimeout)
	}
}

func TestConcurrentCalls(t *testing.T) {
	const calls = 32
	var arrived sync.WaitGroup
	arrived.Add(calls)
	allArrived := make(chan struct{})
	go func() { arrived.Wait(); close(allArrived) }()

	name := testName(t)
	// Each handler waits until all calls are in flight: this only
	// completes if connections are served concurrently.
	giveUp, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	serve(t, name, HandlerFunc(func(_ context.Context, _ string, params json.RawMessage) (any, []string, error) {
		arrived.Done()
		select {
		case <-allArrived:
		case <-giveUp.Done():
			return nil, nil, errors.New("calls were not served concurrently")
		}
		return params, nil, nil
	}))

	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			var got int
			if _, err := Call(context.Background(), name, "echo", i, &got); err != nil {
				t.Errorf("call %d: %v", i, err)
			} else if got != i {
				t.Errorf("call %d got the answer of call %d", i, got)
			}
		})
	}
	wg.Wait()
}

func TestServeEndsWithContext(t *testing.T) {
	name := testName(t)
	l, err := Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	handlerCtxDone := make(chan struct{})
	entered := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, l, HandlerFunc(func(ctx context.Context, _ string, _ json.RawMessage) (any, []string, error) {
			close(entered)
			<-ctx.Done()
			close(handlerCtxDone)
			return nil, nil, ctx.Err()
		}))
	}()
	go Call(context.Background(), name, "block", nil, nil)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("handler was not called")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not end with its context")
	}
	select {
	case <-handlerCtxDone:
	default:
		t.Error("Serve returned before its handler ended")
	}
	if _, err := Call(context.Background(), name, MethodPing, nil, nil); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Call after Serve ended: %v, want ErrNoDaemon", err)
	}
}

func TestErrNoDaemon(t *testing.T) {
	_, err := Call(context.Background(), testName(t), MethodPing, nil, nil)
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("Call to nobody: %v, want ErrNoDaemon", err)
	}
	if !strings.Contains(err.Error(), "no gif daemon runs in this network namespace") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

func TestListenTwice(t *testing.T) {
	name := testName(t)
	serve(t, name, echo)
	l, err := Listen(name)
	if !errors.Is(err, ErrDaemonRunning) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("second Listen: %v, want ErrDaemonRunning", err)
	}
	if _, err := Listen(""); err == nil {
		t.Error("Listen accepted an empty name")
	}
}

// inNewNetns runs fn on a thread moved into a new network namespace. The
// thread stays locked and is discarded, so no other goroutine runs there.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := netns.New()
		if err != nil {
			t.Errorf("create network namespace: %v", err)
			return
		}
		defer ns.Close()
		fn()
	}()
	<-done
}

func TestNamespacesDoNotCollide(t *testing.T) {
	name := testName(t)
	for _, label := range []string{"first", "second"} {
		inNewNetns(t, func() {
			serve(t, name, HandlerFunc(func(context.Context, string, json.RawMessage) (any, []string, error) {
				return label, nil, nil
			}))
		})
	}
	for _, label := range []string{"first", "second"} {
		inNewNetns(t, func() {
			if _, err := Call(context.Background(), name, "which", nil, nil); !errors.Is(err, ErrNoDaemon) {
				t.Errorf("a fresh namespace reached a daemon: %v", err)
			}
			serve(t, name, HandlerFunc(func(context.Context, string, json.RawMessage) (any, []string, error) {
				return label, nil, nil
			}))
			var got string
			if _, err := Call(context.Background(), name, "which", nil, &got); err != nil {
				t.Errorf("call in namespace %s: %v", label, err)
			} else if got != label {
				t.Errorf("call in namespace %s reached namespace %s", label, got)
			}
		})
	}
	if _, err := Call(context.Background(), name, "which", nil, nil); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("the test's own namespace reached a daemon: %v", err)
	}
}

// copyForUser copies the test binary where an unprivileged user can run it.
func copyForUser(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gif-control-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "control.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestOnlyRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it runs a client as uid 65534")
	}
	name := testName(t)
	var served atomic.Int32
	serve(t, name, HandlerFunc(func(context.Context, string, json.RawMessage) (any, []string, error) {
		served.Add(1)
		return nil, nil, nil
	}))

	for _, uid := range []uint32{65534, 0} {
		cmd := exec.Command(copyForUser(t), "-test.run=^$")
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), helperEnv+"=call", SocketEnv+"="+name)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as uid %d: %v\n%s", uid, err, out)
		}
		got := strings.TrimSpace(string(out))
		want := "<nil>"
		if uid != 0 {
			want = fmt.Sprintf("permission denied: the gif control socket is for root (uid 0); you are uid %d", uid)
		}
		if got != want {
			t.Errorf("client as uid %d got %q, want %q", uid, got, want)
		}
	}
	if n := served.Load(); n != 1 {
		t.Errorf("handler ran %d times, want once (for root only)", n)
	}
}

func TestSocketName(t *testing.T) {
	t.Setenv(SocketEnv, "")
	if got := SocketName(); got != DefaultSocketName {
		t.Errorf("SocketName() = %q without %s, want %q", got, SocketEnv, DefaultSocketName)
	}
	t.Setenv(SocketEnv, "gif/other")
	if got := SocketName(); got != "gif/other" {
		t.Errorf("SocketName() = %q, want gif/other", got)
	}
}

// startHelper runs StartDaemon on the test binary in the given helper mode.
func startHelper(t *testing.T, ctx context.Context, mode string) (pid int, logPath string, err error) {
	t.Setenv(helperEnv, mode)
	t.Setenv(SocketEnv, testName(t))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(t.TempDir(), "log", "daemon.log")
	pid, err = StartDaemon(ctx, self, []string{"-test.run=^$"}, logPath)
	if err == nil {
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGTERM) })
	}
	return pid, logPath, err
}

func TestStartDaemon(t *testing.T) {
	pid, logPath, err := startHelper(t, context.Background(), "daemon")
	if err != nil {
		t.Fatal(err)
	}
	var pong PingResult
	if _, err := Call(context.Background(), SocketName(), MethodPing, nil, &pong); err != nil {
		t.Fatal(err)
	}
	if pong.PID != pid {
		t.Errorf("StartDaemon returned pid %d, the daemon says %d", pid, pong.PID)
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon session id %d (%v), want its own session %d", sid, err, pid)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != "/" {
		t.Errorf("daemon working directory %q (%v), want /", cwd, err)
	}
	if stdin, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid)); err != nil || stdin != os.DevNull {
		t.Errorf("daemon stdin %q (%v), want %s", stdin, err, os.DevNull)
	}
	for path, want := range map[string]os.FileMode{logPath: 0o600, filepath.Dir(logPath): 0o700 | os.ModeDir} {
		if info, err := os.Stat(path); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, want)
		}
	}
	if log, err := os.ReadFile(logPath); err != nil || !strings.Contains(string(log), "helper daemon listening") {
		t.Errorf("log %q (%v) lacks the daemon's output", log, err)
	}
}

func TestStartDaemonExits(t *testing.T) {
	start := time.Now()
	_, _, err := startHelper(t, context.Background(), "fail")
	if err == nil {
		t.Fatal("StartDaemon succeeded for a daemon that exits")
	}
	for _, want := range []string{"exited before answering", "exit status 3", "helper: open /dev/net/tun: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("StartDaemon took %v to notice the daemon exited", d)
	}
}

func TestStartDaemonTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, logPath, err := startHelper(t, ctx, "hang")
	if err == nil {
		t.Fatal("StartDaemon succeeded for a daemon that never listens")
	}
	for _, want := range []string{"did not answer", "killed it", "last lines of " + logPath, "helper hanging"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	m := regexp.MustCompile(`helper hanging pid=(\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatal("no pid in the error")
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the daemon that did not answer still exists: kill(%d, 0) = %v", pid, err)
	}
}

// startAsNobody runs the test binary in helper mode as uid 65534 with the
// socket name name, and waits until it prints ready.
func startAsNobody(t *testing.T, mode, name, ready string) (*exec.Cmd, *lockedOutput) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it runs a helper as uid 65534")
	}
	cmd := exec.Command(copyForUser(t), "-test.run=^$")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, SocketEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), ready); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("helper %s did not say %q: %q", mode, ready, out.String())
		}
	}
	return cmd, out
}

// lockedOutput collects a helper's output while the test reads it.
type lockedOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// checkImpostor checks that err refuses the holder cmd by pid, uid and
// command name.
func checkImpostor(t *testing.T, what, name string, err error, cmd *exec.Cmd) {
	t.Helper()
	var impostor *ImpostorError
	if !errors.As(err, &impostor) {
		t.Errorf("%s: error %v, want an ImpostorError", what, err)
		return
	}
	want := fmt.Sprintf("@%s is held by pid %d (uid 65534, control.test), not by a root gif daemon", name, cmd.Process.Pid)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q lacks %q", what, err, want)
	}
	if errors.Is(err, ErrNoDaemon) || errors.Is(err, ErrDaemonRunning) {
		t.Errorf("%s: error %q says a daemon runs or none does", what, err)
	}
}

// TestImpostorGetsNothing: a process that is not root holds the name. Root's
// calls, Listen and StartDaemon refuse it by pid and uid, and not one byte
// reaches it.
func TestImpostorGetsNothing(t *testing.T) {
	name := testName(t)
	t.Setenv(SocketEnv, name)
	cmd, out := startAsNobody(t, "impostor", name, "impostor listening")
	ctx := context.Background()

	_, err := Call(ctx, name, "ipsec.load", map[string]string{"enckey": "0x0123456789abcdef"}, nil)
	checkImpostor(t, "Call", name, err, cmd)
	if err != nil && !strings.HasSuffix(err.Error(), ": nothing sent") {
		t.Errorf("Call: error %q does not say that nothing was sent", err)
	}
	_, err = Call(ctx, name, MethodPing, nil, nil)
	checkImpostor(t, "ping", name, err, cmd)

	l, err := Listen(name)
	if l != nil {
		l.Close()
	}
	checkImpostor(t, "Listen", name, err, cmd)
	if err != nil && !strings.Contains(err.Error(), "end that process") {
		t.Errorf("Listen: error %q does not say what to do", err)
	}

	start := time.Now()
	pid, _, err := startHelper(t, ctx, "daemon")
	checkImpostor(t, "StartDaemon", name, err, cmd)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("StartDaemon took %v to give up on the impostor", d)
	}
	if pid != 0 {
		t.Errorf("StartDaemon returned pid %d", pid)
	}

	// A marker connection after all others: the impostor reads connections
	// in order, so once it has printed the marker it has printed them all.
	marker, err := net.Dial("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(marker, "marker")
	marker.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), `received "marker"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the impostor did not receive the marker: %q", out.String())
		}
	}
	t.Logf("the impostor's output:\n%s", out)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "impostor listening" && !strings.HasPrefix(line, `received "" `) && !strings.HasPrefix(line, `received "marker"`) {
			t.Errorf("the impostor received something: %s", line)
		}
	}
}

// TestSquatterIsNamed: a process that is not root binds the name without
// listening. Nothing can reach it, and the client says who holds the name
// rather than that no daemon runs, so the CLI does not start one.
func TestSquatterIsNamed(t *testing.T) {
	name := testName(t)
	cmd, _ := startAsNobody(t, "squatter", name, "squatting")
	_, err := Call(context.Background(), name, MethodPing, nil, nil)
	checkImpostor(t, "Call", name, err, cmd)
	l, err := Listen(name)
	if l != nil {
		l.Close()
	}
	checkImpostor(t, "Listen", name, err, cmd)
}

// TestListenNamesDaemon: a second daemon is told the pid of the first.
func TestListenNamesDaemon(t *testing.T) {
	name := testName(t)
	serve(t, name, echo)
	_, err := Listen(name)
	want := fmt.Sprintf("listen on @%s: a gif daemon already runs in this network namespace: pid %d", name, os.Getpid())
	if err == nil || err.Error() != want {
		t.Errorf("second Listen: %v, want %q", err, want)
	}
}

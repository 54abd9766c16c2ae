// Package control is the transport of the gif daemon's control API.
//
// One gif daemon runs per Linux network namespace. It serves the CLI on a
// Unix stream socket in the abstract namespace. Abstract sockets belong to
// the network namespace, so daemons in different namespaces never collide,
// and no stale socket file survives a kill -9. The socket is named
// DefaultSocketName ("gif/control", shown by ss -xl as @gif/control); the
// environment variable GIF_SOCKET overrides it, for the daemon and the CLI
// alike.
//
// Only root may use the socket, and only root may serve it. The server
// reads the client's uid with SO_PEERCRED and refuses anyone but root. The
// client reads the server's credentials the same way before it writes a
// byte, because an abstract name belongs to whoever binds it first: while no
// daemon runs, any user of the namespace could bind @gif/control and would
// otherwise receive root's next request, keys included. A holder that is not
// root is an ImpostorError, naming its pid, uid and command: the client sends
// nothing, does not start a daemon, and gif daemon says who holds the name.
//
// The name stays squattable; that costs availability, never secrets. A
// socket file in a root-only directory could not be squatted, but it is not
// scoped to the network namespace (it would need a path per namespace) and a
// daemon killed with SIGKILL leaves it behind. Under systemd the daemon binds
// the name at boot, before users log in, which leaves no window in the
// default namespace; root ends a squatter named in the error.
//
// Protocol: one request per connection. The client sends one Request as a
// single line of JSON ended by a newline, at most MaxRequestSize bytes; the
// server answers with one Response in the same framing, at most
// MaxResponseSize bytes, and closes the connection. encoding/json escapes
// newlines inside strings, so a message never contains one. The method
// "ping" is answered by the server itself with a PingResult.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const (
	// DefaultSocketName is the abstract socket name used when GIF_SOCKET is
	// not set.
	DefaultSocketName = "gif/control"
	// SocketEnv names the environment variable that overrides the socket name.
	SocketEnv = "GIF_SOCKET"

	MaxRequestSize  = 1 << 20
	MaxResponseSize = 16 << 20

	// MethodPing is answered by Serve itself, so a client can tell that a
	// daemon is up without knowing its handler.
	MethodPing = "ping"
)

// requestTimeout bounds the time a client may take to send its request and
// to read the response. The handler itself is bounded by Serve's context.
var requestTimeout = 5 * time.Second

// ErrNoDaemon is returned (wrapped) by Call when nothing listens on the socket.
var ErrNoDaemon = errors.New("no gif daemon runs in this network namespace")

// ErrDaemonRunning is returned (wrapped) by Listen when the socket name is
// taken.
var ErrDaemonRunning = errors.New("a gif daemon already runs in this network namespace")

// ImpostorError says that the socket name is held by a process that is not
// root, so it cannot be a gif daemon.
type ImpostorError struct {
	Addr string // such as "@gif/control"
	PID  int32  // as seen from this process's pid namespace
	UID  uint32
	Comm string // the holder's command name, or "" when it cannot be read
}

func (e *ImpostorError) Error() string {
	who := fmt.Sprintf("uid %d", e.UID)
	if e.Comm != "" {
		who += ", " + e.Comm
	}
	return fmt.Sprintf("%s is held by pid %d (%s), not by a root gif daemon", e.Addr, e.PID, who)
}

// peer is the process at the other end of a Unix socket, as the kernel
// recorded it at connect(2) (for a server) or listen(2) (for a client).
type peer struct {
	pid int32
	uid uint32
}

// Request is what the client sends.
type Request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Response is what the server answers. Error is empty on success.
type Response struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// PingResult is the result of MethodPing.
type PingResult struct {
	PID int `json:"pid"` // of the daemon
}

// Handler serves one request. Warnings are shown to the user even on success.
type Handler interface {
	Serve(ctx context.Context, method string, params json.RawMessage) (result any, warnings []string, err error)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, method string, params json.RawMessage) (result any, warnings []string, err error)

func (f HandlerFunc) Serve(ctx context.Context, method string, params json.RawMessage) (any, []string, error) {
	return f(ctx, method, params)
}

// SocketName returns the socket name from GIF_SOCKET, or DefaultSocketName.
func SocketName() string {
	if name := os.Getenv(SocketEnv); name != "" {
		return name
	}
	return DefaultSocketName
}

// abstractAddr returns the Go address of an abstract socket name, which
// may be written with or without the leading @ that ss shows.
func abstractAddr(name string) (string, error) {
	name = strings.TrimPrefix(name, "@")
	if name == "" {
		return "", errors.New("empty control socket name")
	}
	return "@" + name, nil
}

// encodeMessage returns v as one line of JSON.
func encodeMessage(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// readMessage reads one newline-ended JSON message of at most limit bytes
// (newline included) from r into v.
func readMessage(r io.Reader, limit int, v any) error {
	line, err := bufio.NewReader(io.LimitReader(r, int64(limit)+1)).ReadBytes('\n')
	switch {
	case len(line) > limit:
		return fmt.Errorf("message is larger than %d bytes", limit)
	case err == io.EOF && len(line) == 0:
		return io.ErrUnexpectedEOF
	case err == io.EOF:
		return errors.New("message is not ended by a newline")
	case err != nil:
		return err
	}
	return json.Unmarshal(line, v)
}

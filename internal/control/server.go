package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Serve accepts connections on l and serves each in its own goroutine. When
// ctx ends it closes l, cancels the handlers' context, waits for them and
// returns nil.
func Serve(ctx context.Context, l net.Listener, h Handler) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		conn, err := l.Accept()
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return nil
		}
		if err != nil {
			// Out of file descriptors: the daemon keeps its tunnels, so
			// wait for some to be freed rather than stop serving.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			return fmt.Errorf("accept control connection: %w", err)
		}
		conns.Go(func() { serveConn(ctx, conn, h) })
	}
}

func serveConn(ctx context.Context, conn net.Conn, h Handler) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	msg, err := encodeMessage(handle(ctx, conn, h))
	if err == nil && len(msg) > MaxResponseSize {
		err = fmt.Errorf("response is larger than %d bytes", MaxResponseSize)
	}
	if err != nil {
		msg, _ = encodeMessage(Response{Error: fmt.Sprintf("encode response: %v", err)})
	}
	conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	conn.Write(msg) // An error means the client is gone; nobody to tell.
}

// handle authorizes the peer, reads its request and runs it.
func handle(ctx context.Context, conn net.Conn, h Handler) Response {
	client, err := peerCred(conn)
	if err != nil {
		return Response{Error: fmt.Sprintf("read peer credentials: %v", err)}
	}
	if client.uid != 0 {
		return Response{Error: fmt.Sprintf("permission denied: the gif control socket is for root (uid 0); you are uid %d", client.uid)}
	}

	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	var req Request
	if err := readMessage(conn, MaxRequestSize, &req); err != nil {
		return Response{Error: fmt.Sprintf("read request: %v", err)}
	}

	var result any
	var resp Response
	switch req.Method {
	case "":
		return Response{Error: "request has no method"}
	case MethodPing:
		result = PingResult{PID: os.Getpid()}
	default:
		result, resp.Warnings, err = h.Serve(ctx, req.Method, req.Params)
		if err != nil {
			resp.Error = err.Error()
			return resp
		}
	}
	if result != nil {
		if resp.Result, err = json.Marshal(result); err != nil {
			resp.Error = fmt.Sprintf("encode result of %s: %v", req.Method, err)
		}
	}
	return resp
}

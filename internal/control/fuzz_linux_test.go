package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FuzzServeConn feeds arbitrary bytes to the server side of the protocol,
// as a client running as root would send them, over a real socket pair: the
// server answers exactly one well-formed Response line, with an error unless
// the bytes began with a well-formed request.
func FuzzServeConn(f *testing.F) {
	for _, seed := range []string{
		// Requests of every method, as the CLI sends them.
		`{"method":"ping"}` + "\n",
		`{"method":"ifconfig","params":{"name":"gif0","ops":[{"kind":"create","token":"create"}]}}` + "\n",
		`{"method":"show","params":{"name":"gif0"}}` + "\n",
		`{"method":"show","params":{}}` + "\n",
		`{"method":"sysctl.get","params":{"names":["net.inet.ipip.allow"]}}` + "\n",
		`{"method":"sysctl.set","params":{"name":"net.inet.ipip.allow","value":"1"}}` + "\n",
		`{"method":"stats"}` + "\n",
		`{"method":"ipsec.load","params":{"SAs":[{"File":"ipsec.conf","Line":1,"Proto":"esp","Mode":"tunnel","Src":"192.0.2.1","Dst":"192.0.2.2","SPI":16962,"Auth":"hmac-sha2-256","Enc":"aes","AuthKey":"ERERERERERERERERERERERERERERERERERERERERERE=","EncKey":"MzMzMzMzMzMzMzMzMzMzMw=="}]}}` + "\n",
		`{"method":"ipsec.show"}` + "\n",
		`{"method":"ipsec.del","params":{"SAs":[]}}` + "\n",
		`{"method":"echo","params":[1,"two",{"3":null}]}` + "\n",
		// Malformed ones.
		"",
		"\n",
		`{"method":""}` + "\n",
		`{"method":"ping"}`,
		`{"method":"ping"}` + "\n" + `{"method":"ping"}` + "\n",
		`{"method":` + "\n",
		`["ping"]` + "\n",
		`{"method":"echo","params":}` + "\n",
		"\xff\xfe{\x00}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, request []byte) {
		client, server := socketPair(t)
		defer client.Close()
		served := make(chan struct{})
		go func() {
			defer close(served)
			serveConn(context.Background(), server, echo)
		}()
		client.SetDeadline(time.Now().Add(10 * time.Second))
		// The server may answer before it has read everything, so write
		// while reading the answer.
		go func() {
			client.Write(request)
			client.CloseWrite()
		}()
		answer, err := io.ReadAll(client)
		<-served
		if err != nil {
			t.Fatalf("read the answer: %v", err)
		}
		var resp Response
		if err := readMessage(bytes.NewReader(answer), MaxResponseSize, &resp); err != nil {
			t.Fatalf("answer %q is not a Response: %v", answer, err)
		}
		if bytes.IndexByte(answer, '\n') != len(answer)-1 {
			t.Fatalf("answer %q is more than one line", answer)
		}
		var req Request
		wellFormed := readMessage(bytes.NewReader(request), MaxRequestSize, &req) == nil && req.Method != ""
		switch {
		case resp.Error == "" && !wellFormed:
			t.Fatalf("request %q is malformed, but the answer %q has no error", request, answer)
		case resp.Error == "" && req.Method != "echo" && req.Method != MethodPing:
			t.Fatalf("method %q is unknown to the handler, but the answer %q has no error", req.Method, answer)
		case wellFormed && req.Method == "echo" && !bytes.Equal(resp.Result, compact(t, req.Params)):
			t.Fatalf("echo of %s answered %s", req.Params, resp.Result)
		}
	})
}

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		file := os.NewFile(uintptr(fd), "socketpair")
		conn, err := net.FileConn(file)
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = conn.(*net.UnixConn)
	}
	return ends[0], ends[1]
}

// compact returns the JSON params as the server encodes them again: no
// params are echoed as null.
func compact(t *testing.T, params json.RawMessage) json.RawMessage {
	if len(params) == 0 {
		return json.RawMessage("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, params); err != nil {
		t.Fatalf("params %s: %v", params, err)
	}
	return b.Bytes()
}

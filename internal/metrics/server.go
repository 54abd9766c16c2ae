package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the server answers.
const Path = "/metrics"

// Listen opens the metrics' TCP socket at addr, HOST:PORT: HOST an IP
// address, a name of this host, or empty for every address; PORT a
// number from 1 to 65535. The error names addr and what is wrong with it:
// its syntax, a name that does not resolve, an address not of this host,
// a port in use.
func Listen(addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w (want HOST:PORT, e.g. 127.0.0.1:9661 or [::1]:9661)", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, fmt.Errorf("metrics address %q: port %q is not a number from 1 to 65535", addr, port)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w", addr, err)
	}
	return l, nil
}

// Server answers Path with the daemon's metrics, the Go runtime's and the
// process's.
type Server struct {
	http *http.Server
}

// NewServer returns a server of the metrics that c collects.
func NewServer(c *Collector) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &Server{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
}

// Serve answers on l until Close.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server and its connections.
func (s *Server) Close() error { return s.http.Close() }

package daemon

// ServeRequest is the daemon's control handler, for package daemon_test.
var ServeRequest = (*Daemon).serve

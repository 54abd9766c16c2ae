package daemon

// OpenTransport opens a data plane's outer transport, as Run does.
var OpenTransport = openTransport

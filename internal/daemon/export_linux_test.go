package daemon

// OpenPlane is the data plane Run opens, for package daemon_test.
var OpenPlane = openPlane

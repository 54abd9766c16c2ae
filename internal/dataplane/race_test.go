//go:build race

package dataplane_test

// raceEnabled: the race detector makes sync.Pool drop items at random and
// allocates itself, so allocations cannot be counted.
const raceEnabled = true

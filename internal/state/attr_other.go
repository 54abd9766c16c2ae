//go:build !linux

package state

// checkReplaceable has nothing to check where there are no Linux inode
// flags.
func checkReplaceable(string) error { return nil }

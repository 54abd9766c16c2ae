//go:build !linux

package state

import (
	"fmt"
	"runtime"
)

// NamespaceID is not supported: network namespaces are Linux only.
func NamespaceID() (string, error) {
	return "", fmt.Errorf("identify network namespace: not supported on %s", runtime.GOOS)
}

// CurrentOwner is not supported: network namespaces are Linux only.
func CurrentOwner() (Owner, error) {
	return Owner{}, fmt.Errorf("identify network namespace: not supported on %s", runtime.GOOS)
}

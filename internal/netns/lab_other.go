//go:build !linux

package netns

import (
	"fmt"
	"runtime"
)

var errUnsupported = fmt.Errorf("network namespaces: not supported on %s", runtime.GOOS)

func supported() error { return errUnsupported }

// Do is not supported: network namespaces are Linux only.
func (h *Host) Do(fn func() error) error { return errUnsupported }

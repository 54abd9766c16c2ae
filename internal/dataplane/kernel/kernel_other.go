//go:build !linux

package kernel

import (
	"errors"
	"log/slog"

	"gif/internal/dataplane"
)

// Plane is the kernel data plane, which only Linux has.
type Plane struct{ *dataplane.Userspace }

// New fails: the kernel plane needs Linux.
func New(u *dataplane.Userspace, log *slog.Logger) (*Plane, error) {
	return nil, errors.New("the kernel data plane needs Linux")
}

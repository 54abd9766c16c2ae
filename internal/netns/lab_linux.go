package netns

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

func supported() error { return nil }

// Do runs fn on an OS thread switched into h's namespace. Sockets, TUN
// devices and netlink handles that fn opens stay in h, and can be used from
// any goroutine afterwards. Goroutines that fn starts run in the lab's own
// namespace.
//
// The thread is discarded afterwards, so whatever else fn changes about it
// cannot leak to other goroutines. It is also switched back first: Go cannot
// end the process's main thread and parks it instead, and a main thread
// parked in h would make h list the whole process among its pids.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // No unlock: the thread ends with this goroutine.
		errc <- h.do(fn)
	}()
	return <-errc
}

func (h *Host) do(fn func() error) (err error) {
	home, err := netns.Get()
	if err != nil {
		return fmt.Errorf("open own namespace: %w", err)
	}
	defer home.Close()
	target, err := netns.GetFromName(h.name)
	if err != nil {
		return fmt.Errorf("open namespace of %s: %w", h, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("enter namespace of %s: %w", h, err)
	}
	defer func() {
		if backErr := netns.Set(home); backErr != nil {
			err = errors.Join(err, fmt.Errorf("leave namespace of %s: %w", h, backErr))
		}
	}()
	return fn()
}

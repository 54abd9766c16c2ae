package outer

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapBuffers maps count*size bytes of anonymous memory outside Go's heap.
func mapBuffers(count, size int) ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map %d receive buffers of %d bytes: %w", count, size, err)
	}
	return mem, nil
}

func unmapBuffers(mem []byte) error {
	if err := unix.Munmap(mem); err != nil {
		return fmt.Errorf("unmap receive buffers: %w", err)
	}
	return nil
}

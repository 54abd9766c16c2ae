package state

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Inode flags of linux/fs.h, which x/sys/unix lacks.
const (
	fsImmutable  = 0x10 // FS_IMMUTABLE_FL: chattr +i
	fsAppendOnly = 0x20 // FS_APPEND_FL: chattr +a
)

// checkReplaceable finds what would make the rename of a file written
// beside path over path fail: path or its directory immutable or
// append-only, which even root cannot override. A file system without
// these attributes, or a question it cannot answer, passes: the rename
// will tell.
func checkReplaceable(path string) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // a state file not yet written, most often
		}
		flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		unix.Close(fd)
		switch {
		case err != nil:
		case flags&fsImmutable != 0:
			return fmt.Errorf("%s is immutable (chattr +i)", p)
		case flags&fsAppendOnly != 0:
			return fmt.Errorf("%s is append-only (chattr +a)", p)
		}
	}
	return nil
}

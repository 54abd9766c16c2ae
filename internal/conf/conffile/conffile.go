// Package conffile reads configuration files as gif's config languages
// need them: the contents and the mode of the very file read, so that a
// file holding secrets can be refused when others may read it.
package conffile

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is returned for a path that names a directory, a device or
// anything else but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Read returns the contents of the regular file at path and its mode,
// taken through the same descriptor, so that no rename in between can
// swap the file whose mode was checked.
func Read(path string) ([]byte, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, &fs.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	data, err := io.ReadAll(f)
	return data, info.Mode(), err
}

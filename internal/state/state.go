// Package state keeps the daemon's state on disk: one directory per network
// namespace, JSON files replaced atomically so a crash leaves either the
// old or the new file, never a torn one.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirEnv names the environment variable that overrides the state directory.
const DirEnv = "GIF_STATE_DIR"

// baseDir holds one state directory per network namespace.
const baseDir = "/var/lib/gif"

// Dir returns the state directory for the current network namespace:
// $GIF_STATE_DIR if set, else /var/lib/gif/<NamespaceID>. It does not create
// it; Save does.
func Dir() (string, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir, nil
	}
	id, err := NamespaceID()
	if err != nil {
		return "", err
	}
	return filepath.Join(baseDir, id), nil
}

// Save writes v as JSON to path atomically: temp file in the same
// directory, fsync, rename, fsync of the directory. Files are created 0600,
// directories 0700.
func Save(path string, v any) error {
	p, err := Prepare(path, v)
	if err != nil {
		return err
	}
	return p.Commit()
}

// WriteFile writes data to path atomically, as Save does, with mode perm;
// a missing directory is made with mode 0700.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	p, err := PrepareFile(path, data, perm)
	if err != nil {
		return err
	}
	return p.Commit()
}

// Pending is a file written and synced beside its destination but not yet
// in its place. It lets a caller store first, change what the file
// describes second and put the file in place third, so that a disk that
// refuses the file (full, read-only, immutable) refuses the change with it.
type Pending struct {
	tmp, path string
}

// ErrNotSynced says that Commit put the file in place but could not sync
// its directory: the new file is what every reader sees, but a crash may
// still bring back the old one.
var ErrNotSynced = errors.New("in place, but its directory could not be synced")

// Prepare writes v as JSON beside path, as Save does, without putting it in
// place.
func Prepare(path string, v any) (*Pending, error) {
	data, err := json.Marshal(v) // compact: with a thousand gifs, indenting costs more than writing
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return PrepareFile(path, append(data, '\n'), 0o600)
}

// PrepareFile writes data with mode perm beside path, as WriteFile does,
// without putting it in place.
func PrepareFile(path string, data []byte, perm os.FileMode) (*Pending, error) {
	if err := checkReplaceable(path); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	tmp, err := writeTemp(path, data)
	if err == nil {
		if err = os.Chmod(tmp, perm); err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return &Pending{tmp: tmp, path: path}, nil
}

// Commit puts the file in place: a rename, then a sync of the directory so
// that the rename survives a crash. When the rename fails, nothing changed
// and the file is dropped; when only the sync fails, the error matches
// ErrNotSynced.
func (p *Pending) Commit() error {
	if err := os.Rename(p.tmp, p.path); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("store %s: %w", p.path, causeOf(err))
	}
	if err := syncDir(filepath.Dir(p.path)); err != nil {
		return fmt.Errorf("store %s: %w: %w", p.path, ErrNotSynced, err)
	}
	return nil
}

// Discard drops the file: the change it was written for did not happen.
func (p *Pending) Discard() {
	os.Remove(p.tmp)
}

// writeTemp writes data to a new hidden file beside path, on the same file
// system so that it can be renamed over path, and syncs it. Errors about
// the temp file say only their cause: the caller names path.
func writeTemp(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return "", causeOf(err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", causeOf(err)
	}
	return f.Name(), nil
}

// causeOf strips the path from a file operation's error.
func causeOf(err error) error {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	switch {
	case errors.As(err, &pathErr):
		return pathErr.Err
	case errors.As(err, &linkErr):
		return linkErr.Err
	}
	return err
}

func syncDir(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return err
	}
	err = dir.Sync()
	if closeErr := dir.Close(); err == nil {
		err = closeErr
	}
	return err
}

// Load reads the JSON file at path into v. A missing file gives an error
// that matches fs.ErrNotExist; a corrupt one names the file, the line and
// the column.
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return fmt.Errorf("corrupt state file %s: %w", position(path, data, syntaxErr.Offset), err)
		case errors.As(err, &typeErr):
			return fmt.Errorf("corrupt state file %s: %w", position(path, data, typeErr.Offset), err)
		}
		return fmt.Errorf("corrupt state file %s: %w", path, err)
	}
	return nil
}

// position returns "path:line:column" of the byte that made the decoder
// fail; encoding/json's offset counts the bytes read up to and including it.
// Lines and columns count from 1, columns in bytes.
func position(path string, data []byte, offset int64) string {
	at := min(max(int(offset)-1, 0), len(data))
	before := data[:at]
	line := 1 + bytes.Count(before, []byte{'\n'})
	column := at - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("%s:%d:%d", path, line, column)
}

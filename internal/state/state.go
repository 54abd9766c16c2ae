// Package state keeps the daemon's state on disk: one directory per network
// namespace, JSON files replaced atomically so a crash leaves either the
// old or the new file, never a torn one.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	data, err := json.Marshal(v) // compact: with a thousand gifs, indenting costs more than writing
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := replace(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// WriteFile writes data to path atomically, as Save does, with mode perm;
// a missing directory is made with mode 0700.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := replace(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replace puts data at path through a temporary file and a rename.
func replace(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err = os.Chmod(tmp, perm); err == nil {
		err = commit(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// writeTemp writes data to a new hidden file beside path, on the same file
// system so that it can be renamed over path, and syncs it.
func writeTemp(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return "", err
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
		return "", err
	}
	return f.Name(), nil
}

// commit renames tmp to path and syncs the directory, so that the rename
// itself survives a crash.
func commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
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

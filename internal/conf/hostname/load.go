package hostname

import (
	"errors"
	"fmt"
	"gif/internal/conf/conffile"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadDir reads the files DIR/hostname.IF, each IF of ifnames or, with
// none given, every IF made of ASCII letters, digits, '-' and '_'. That
// skips backup copies such as hostname.gif0.orig and hostname.gif0~, as
// netstart skips any IF but letters and digits, and OpenBSD's files named
// by link address. It returns the files that parse, in Order, and an
// error joining an *Error for each file that is missing, unreadable or
// wrong. A file that others may read or write gets a warning: netstart
// would chmod it o-rwx.
func LoadDir(dir string, ifnames ...string) ([]*File, error) {
	if len(ifnames) == 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			if ifname, ok := strings.CutPrefix(e.Name(), "hostname."); ok && isFileIfname(ifname) {
				ifnames = append(ifnames, ifname)
			}
		}
	}
	var files []*File
	var errs []error
	for _, ifname := range Order(ifnames) {
		f, err := load(filepath.Join(dir, "hostname."+ifname), ifname)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	return files, errors.Join(errs...)
}

func load(path, ifname string) (*File, error) {
	data, mode, err := conffile.Read(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is the Error's
		}
		return nil, &Error{File: path, Err: err}
	}
	f, err := ParseFile(path, ifname, data)
	if err != nil {
		return nil, err
	}
	if mode&0o007 != 0 {
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s: others may read or write it (mode %v); chmod o-rwx it", path, mode))
	}
	return f, nil
}

func isFileIfname(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == ""
}

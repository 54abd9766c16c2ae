package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ownerFileName is the file of a state directory that says which network
// namespace wrote the state.
const ownerFileName = "netns.json"

// Owner names a network namespace for as long as the machine runs: the
// boot, and the namespace's cookie, which the kernel gives to no other
// namespace of that boot (an inode number it may give again).
type Owner struct {
	Boot   string `json:"boot_id"`
	Cookie uint64 `json:"netns_cookie"`
}

// SetAsideForeign moves files (names in dir) out of the way when another
// namespace of this boot wrote them: one deleted since, whose name (and so
// whose state directory) this one took. A new namespace does not inherit
// the gifs, bridges and IPsec keys of a deleted one. The files go to a new
// directory inside dir, whose path it returns; "" when nothing moved. State
// written before this boot is kept: bringing it back after a reboot is what
// it is for.
func SetAsideForeign(dir string, now Owner, files []string) (string, error) {
	path := filepath.Join(dir, ownerFileName)
	var writer Owner
	if err := Load(path, &writer); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	if writer.Boot != now.Boot || writer.Cookie == now.Cookie {
		return "", nil
	}
	aside := filepath.Join(dir, fmt.Sprintf("deleted-netns-%.8s-%d", writer.Boot, writer.Cookie))
	if err := os.Mkdir(aside, 0o700); err != nil {
		return "", fmt.Errorf("set aside the state of deleted network namespace %d: %w", writer.Cookie, err)
	}
	for _, name := range slices.Concat(files, []string{ownerFileName}) {
		err := os.Rename(filepath.Join(dir, name), filepath.Join(aside, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("set aside the state of deleted network namespace %d: %w", writer.Cookie, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("set aside the state of deleted network namespace %d: %w", writer.Cookie, err)
	}
	return aside, nil
}

// RecordOwner writes in dir that now owns the state there, unless it says
// so already.
func RecordOwner(dir string, now Owner) error {
	path := filepath.Join(dir, ownerFileName)
	var writer Owner
	if err := Load(path, &writer); err == nil && writer == now {
		return nil
	}
	return Save(path, now)
}

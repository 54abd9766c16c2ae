package ifconfig

import (
	"fmt"
	"strings"

	"gif/internal/tunnel"
)

// maxNameLen is the longest Linux interface name: IFNAMSIZ less the
// terminating NUL.
const maxNameLen = 15

// NameError reports an interface name that names no interface gif can
// configure.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("interface name %q: %s", e.Name, e.Reason)
}

// grammarOf returns the parameters ifconfig takes for the interface called
// name: gifN and bridgeN have their own, any other Linux interface a few.
func grammarOf(name string) (*grammar, error) {
	switch {
	case tunnel.IsGif(name):
		return &gifGrammar, nil
	case tunnel.IsBridge(name):
		return &bridgeGrammar, nil
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	return &linkGrammar, nil
}

// checkName returns a *NameError unless name can name a Linux interface
// that is not a gif or bridge, or is a gif or bridge name. It refuses what
// the kernel's dev_valid_name refuses, and '%', which the kernel takes as
// a template ("eth%d") and so never leaves in a name. A name that looks like
// a gif or bridge but is not one (gif01, bridge10000) is refused too, rather
// than taken for some other Linux interface.
func checkName(name string) error {
	if tunnel.IsGif(name) || tunnel.IsBridge(name) {
		return nil
	}
	reason, bad := "", badByte(name)
	switch {
	case name == "":
		reason = "empty"
	case len(name) > maxNameLen:
		reason = fmt.Sprintf("%d bytes, more than Linux's %d", len(name), maxNameLen)
	case name == "." || name == "..":
		reason = `Linux refuses "." and ".." as names`
	case bad >= 0:
		reason = fmt.Sprintf("contains %q; Linux interface names have no '/', ':', '%%', white space or NUL", name[bad:bad+1])
	case unitLike("gif", name):
		reason = "not a gif interface (want gif0 .. gif9999, without leading zeros)"
	case unitLike("bridge", name):
		reason = "not a bridge (want bridge0 .. bridge9999, without leading zeros)"
	default:
		return nil
	}
	return &NameError{Name: name, Reason: reason}
}

// badNameBytes are the bytes no Linux interface name holds: those the
// kernel's dev_valid_name refuses ('/', ':' and what its isspace counts as
// white space, 0xa0 among it), NUL, which ends a C string, and '%'.
const badNameBytes = "/:% \t\n\v\f\r\x00\xa0"

// badByte returns the index of the first byte of name in badNameBytes, or -1.
// It goes byte by byte because the kernel does: 0xa0 is refused even inside
// a UTF-8 sequence.
func badByte(name string) int {
	for i := range len(name) {
		if strings.IndexByte(badNameBytes, name[i]) >= 0 {
			return i
		}
	}
	return -1
}

// unitLike reports whether name is prefix and digits only.
func unitLike(prefix, name string) bool {
	digits, ok := strings.CutPrefix(name, prefix)
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

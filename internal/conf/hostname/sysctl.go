package hostname

import (
	"fmt"
	"slices"
	"strings"

	"gif/internal/tunnel"
)

// Setting is one line of sysctl.conf: a variable and the value to give it.
type Setting struct {
	Name  string
	Value string
	Line  int
}

// ParseSysctlConf reads sysctl.conf(5) lines, NAME=VALUE, with # comments
// and blank lines; white space around the name and the value is ignored. It
// takes only the variables gif knows (tunnel.SysctlNames), with values
// they take, and returns the first error as an *Error naming file name.
func ParseSysctlConf(name string, data []byte) ([]Setting, error) {
	var settings []Setting
	for i, line := range strings.Split(string(data), "\n") {
		text, _, _ := strings.Cut(strings.TrimSuffix(line, "\r"), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		s, err := parseSetting(text)
		if err != nil {
			return nil, &Error{File: name, Line: i + 1, Err: err}
		}
		s.Line = i + 1
		settings = append(settings, s)
	}
	return settings, nil
}

func parseSetting(text string) (Setting, error) {
	name, value, ok := strings.Cut(text, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" {
		return Setting{}, fmt.Errorf("%q: want NAME=VALUE", text)
	}
	if !slices.Contains(tunnel.SysctlNames(), name) {
		return Setting{}, fmt.Errorf("%s: not a variable gif knows (it knows %s)", name, strings.Join(tunnel.SysctlNames(), ", "))
	}
	var scratch tunnel.Sysctl
	if err := scratch.Set(name, value); err != nil {
		return Setting{}, err
	}
	return Setting{Name: name, Value: value}, nil
}

package cli

import (
	"fmt"
	"gif/internal/control"
	"io"
	"strings"
)

// sysctlMain is `gif sysctl`: read with NAME or -a, set with NAME=VALUE, as
// OpenBSD's sysctl(8) prints them.
func sysctlMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-a") {
		args = nil
	}
	var reads []string
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") {
			return fail(stderr, "sysctl", fmt.Errorf("unknown flag %q (want -a)", arg))
		}
		name, value, isSet := strings.Cut(arg, "=")
		if !isSet {
			reads = append(reads, name)
			continue
		}
		var v control.SysctlValue
		if err := call(stderr, control.MethodSysctlSet, control.SysctlSetParams{Name: name, Value: value}, &v); err != nil {
			return fail(stderr, "sysctl", err)
		}
		fmt.Fprintf(stdout, "%s: %d -> %d\n", v.Name, v.Previous, v.Value)
	}
	if len(reads) == 0 && len(args) > 0 {
		return 0
	}
	var values []control.SysctlValue
	if err := call(stderr, control.MethodSysctlGet, control.SysctlGetParams{Names: reads}, &values); err != nil {
		return fail(stderr, "sysctl", err)
	}
	for _, v := range values {
		fmt.Fprintf(stdout, "%s=%d\n", v.Name, v.Value)
	}
	return 0
}

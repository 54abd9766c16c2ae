package cli

import (
	"fmt"
	"io"
	"runtime"

	"gif/internal/buildinfo"
)

// versionMain is `gif version`: the module version, the VCS revision and the
// Go release, from the build information the Go toolchain embeds.
func versionMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "version", fmt.Errorf("takes no arguments"))
	}
	info, err := buildinfo.Read()
	if err != nil {
		return fail(stderr, "version", err)
	}
	io.WriteString(stdout, formatVersion(info))
	return 0
}

// formatVersion prints "gif VERSION", then the revision, its time and
// whether the tree had changes, then the Go release and platform.
func formatVersion(info buildinfo.Info) string {
	s := fmt.Sprintf("gif %s\n", info.Version)
	if info.Revision != "" {
		s += "revision " + info.Revision
		if info.Time != "" {
			s += " (" + info.Time + ")"
		}
		if info.Modified {
			s += ", with uncommitted changes"
		}
		s += "\n"
	} else {
		s += "revision unknown (built outside a git checkout)\n"
	}
	return s + fmt.Sprintf("%s %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
}

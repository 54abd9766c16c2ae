package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionMain is `gif version`: the module version, the VCS revision and the
// Go release, from the build information the Go toolchain embeds.
func versionMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "version", fmt.Errorf("takes no arguments"))
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fail(stderr, "version", fmt.Errorf("this binary carries no build information"))
	}
	io.WriteString(stdout, formatVersion(info))
	return 0
}

// formatVersion prints "gif VERSION", then the revision, its time and
// whether the tree had changes, then the Go release and platform.
func formatVersion(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	s := fmt.Sprintf("gif %s\n", info.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		s += "revision " + rev
		if t := settings["vcs.time"]; t != "" {
			s += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			s += ", with uncommitted changes"
		}
		s += "\n"
	} else {
		s += "revision unknown (built outside a git checkout)\n"
	}
	return s + fmt.Sprintf("%s %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// Package buildinfo reads what the Go toolchain embeds in gif's binary:
// the module version, the VCS revision and the Go release, which gif
// version prints and the daemon's metrics label gif_build_info with.
package buildinfo

import (
	"errors"
	"runtime/debug"
)

// Info is the build information of a binary.
type Info struct {
	Version   string // the main module's version
	Revision  string // the VCS revision; empty when built outside a git checkout
	Time      string // the revision's commit time, when known
	Modified  bool   // the tree had uncommitted changes
	GoVersion string // the Go release that built it
}

// Read returns this binary's build information.
func Read() (Info, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{}, errors.New("this binary carries no build information")
	}
	return From(info), nil
}

// From picks what Info holds out of the toolchain's build information.
func From(info *debug.BuildInfo) Info {
	b := Info{Version: info.Main.Version, GoVersion: info.GoVersion}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	got := From(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.time", Value: "T"}, {Key: "vcs.modified", Value: "true"}, {Key: "GOOS", Value: "linux"}}})
	want := Info{Version: "v1.2.3", Revision: "abc", Time: "T", Modified: true, GoVersion: "go1.26.8"}
	if got != want {
		t.Errorf("From = %+v, want %+v", got, want)
	}
}

package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"gif/internal/buildinfo"
)

func TestFormatVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "gif", Version: "v0.0.0-20261206195000-df52a7b0c1d2+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "df52a7b0c1d2e3f4"},
			{Key: "vcs.time", Value: "2026-12-06T19:50:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := formatVersion(buildinfo.From(info))
	for _, want := range []string{
		"gif v0.0.0-20261206195000-df52a7b0c1d2+dirty\n",
		"revision df52a7b0c1d2e3f4 (2026-12-06T19:50:00Z), with uncommitted changes\n",
		"go1.26.8 ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("formatVersion = %q, want it to hold %q", got, want)
		}
	}
	info.Settings = nil
	if got := formatVersion(buildinfo.From(info)); !strings.Contains(got, "revision unknown") {
		t.Errorf("without VCS settings: %q", got)
	}
}

// TestVersion runs gif version on the test binary itself, which carries
// build information too.
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := Main([]string{"version"}, &stdout, &stderr); status != 0 || !strings.HasPrefix(stdout.String(), "gif ") {
		t.Errorf("gif version: status %d, stdout %q, stderr %q", status, stdout.String(), stderr.String())
	}
}

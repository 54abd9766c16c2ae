package main

import "testing"

func TestCPUModel(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel(cpuinfo); got != "AMD EPYC 7B13" {
		t.Fatalf("got %q", got)
	}
	if got := cpuModel("processor\t: 0\n"); got != "unknown" {
		t.Fatalf("no model: got %q", got)
	}
}

package main

import (
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	o, err := parseOptions(env(nil))
	if err != nil || o.Time != defaultTime || o.Reps != defaultReps || o.Only != nil {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	o, err = parseOptions(env(map[string]string{"BENCH_TIME": "3", "BENCH_REPS": "1", "BENCH_ONLY": "veth|ip4in4"}))
	if err != nil || o.Time != 3*time.Second || o.Reps != 1 {
		t.Fatalf("got %+v, %v", o, err)
	}
	for name, want := range map[string]bool{"veth": true, "ip4in4-esp-gcm": true, "ip6in6": false, "scale": false} {
		if o.selected(name) != want {
			t.Errorf("BENCH_ONLY=veth|ip4in4 selects %s: %v, want %v", name, !want, want)
		}
	}
	if o, err := parseOptions(env(map[string]string{"BENCH_TIME": "5s"})); err != nil || o.Time != 5*time.Second {
		t.Errorf("BENCH_TIME=5s: %+v, %v", o, err)
	}
	for _, bad := range []map[string]string{
		{"BENCH_TIME": "0"}, {"BENCH_TIME": "1.5s"}, {"BENCH_TIME": "ten"},
		{"BENCH_REPS": "0"}, {"BENCH_REPS": "x"}, {"BENCH_ONLY": "("},
	} {
		if _, err := parseOptions(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

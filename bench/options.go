package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Defaults of the environment variables that tune a run.
const (
	defaultTime = 10 * time.Second // BENCH_TIME: each iperf3 test
	defaultReps = 3                // BENCH_REPS: repetitions of each configuration
)

// options are read from the environment: BENCH_TIME (seconds, "10" or
// "10s"), BENCH_REPS and BENCH_ONLY (a regular expression that the names of
// the configurations to run must match).
type options struct {
	Time time.Duration
	Reps int
	Only *regexp.Regexp // nil: every configuration
}

func parseOptions(getenv func(string) string) (options, error) {
	o := options{Time: defaultTime, Reps: defaultReps}
	if s := getenv("BENCH_TIME"); s != "" {
		d, err := parseSeconds(s)
		if err != nil {
			return o, fmt.Errorf("BENCH_TIME=%s: %w", s, err)
		}
		o.Time = d
	}
	if s := getenv("BENCH_REPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return o, fmt.Errorf("BENCH_REPS=%s: want a whole number of at least 1", s)
		}
		o.Reps = n
	}
	if s := getenv("BENCH_ONLY"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return o, fmt.Errorf("BENCH_ONLY=%s: %w", s, err)
		}
		o.Only = re
	}
	return o, nil
}

// parseSeconds reads "10" or "10s": iperf3 takes whole seconds only.
func parseSeconds(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, convErr := strconv.Atoi(s)
		if convErr != nil {
			return 0, fmt.Errorf("want seconds, such as 10 or 10s")
		}
		d = time.Duration(n) * time.Second
	}
	if d < time.Second || d%time.Second != 0 {
		return 0, fmt.Errorf("want a whole number of seconds, at least 1")
	}
	return d, nil
}

// selected reports whether the configuration called name is to run.
func (o options) selected(name string) bool {
	return o.Only == nil || o.Only.MatchString(name)
}

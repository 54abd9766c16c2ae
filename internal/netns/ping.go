package netns

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// PingResult is the summary iputils ping prints.
type PingResult struct {
	Transmitted int
	Received    int
	AvgRTT      time.Duration // zero when nothing was received
	Output      string        // all of it, for messages and details such as "mtu=1280"
}

// Ping runs iputils ping from h to dst. It sends one echo request and waits
// a second for the reply unless args say otherwise ("-c", "3"; ping takes
// the last of a repeated option). Lost replies are not an error: look at
// Received. The error is for a ping that printed no summary, such as one
// with no route to dst.
func (h *Host) Ping(ctx context.Context, dst string, args ...string) (PingResult, error) {
	argv := append([]string{"-n", "-c", "1", "-W", "1"}, args...)
	out, err := h.Run(ctx, "ping", append(argv, dst)...)
	res, parseErr := parsePing(out)
	if parseErr != nil {
		if err != nil {
			return res, err
		}
		return res, fmt.Errorf("ping %s from %s: %w", dst, h, parseErr)
	}
	return res, nil
}

var (
	pingCounts = regexp.MustCompile(`(?m)^(\d+) packets transmitted, (\d+) received`)
	pingRTT    = regexp.MustCompile(`(?m)^rtt min/avg/max/mdev = [0-9.]+/([0-9.]+)/`)
)

func parsePing(out string) (PingResult, error) {
	res := PingResult{Output: out}
	m := pingCounts.FindStringSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("no packet counts in ping output %q", out)
	}
	res.Transmitted, _ = strconv.Atoi(m[1]) // \d+ always parses
	res.Received, _ = strconv.Atoi(m[2])
	if m := pingRTT.FindStringSubmatch(out); m != nil {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return res, fmt.Errorf("ping rtt %q: %w", m[1], err)
		}
		res.AvgRTT = time.Duration(ms * float64(time.Millisecond))
	}
	return res, nil
}

package netns

import (
	"testing"
	"time"
)

func TestParsePing(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want PingResult
	}{{
		name: "replies",
		out: `PING 192.0.2.2 (192.0.2.2) 56(84) bytes of data.
64 bytes from 192.0.2.2: icmp_seq=1 ttl=64 time=0.291 ms
64 bytes from 192.0.2.2: icmp_seq=2 ttl=64 time=0.038 ms

--- 192.0.2.2 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 201ms
rtt min/avg/max/mdev = 0.038/0.164/0.291/0.126 ms
`,
		want: PingResult{Transmitted: 2, Received: 2, AvgRTT: 164 * time.Microsecond},
	}, {
		name: "lost",
		out: `PING 192.0.2.99 (192.0.2.99) 56(84) bytes of data.

--- 192.0.2.99 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 16ms
`,
		want: PingResult{Transmitted: 3},
	}, {
		name: "local errors",
		out: `PING 192.0.2.2 (192.0.2.2) 1472(1500) bytes of data.
ping: local error: message too long, mtu=1280

--- 192.0.2.2 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms
`,
		want: PingResult{Transmitted: 1},
	}}
	for _, tt := range tests {
		got, err := parsePing(tt.out)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		tt.want.Output = tt.out
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if _, err := parsePing("ping: connect: Network is unreachable\n"); err == nil {
		t.Error("parsed output without a summary")
	}
}

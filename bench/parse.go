package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// iperfResult is what an iperf3 client run measured at the receiver.
type iperfResult struct {
	Seconds       float64
	Bytes         uint64  // received
	BitsPerSecond float64 // received
	Datagrams     int64   // UDP: datagrams that arrived (sent minus lost)
}

// parseIperf reads the output of `iperf3 -J` on the client. iperf3 3.12
// reports the receiver's side in end.sum_received, for UDP too.
func parseIperf(out []byte) (iperfResult, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumReceived *struct {
				Seconds       float64 `json:"seconds"`
				Bytes         uint64  `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
				Packets       int64   `json:"packets"`
				LostPackets   int64   `json:"lost_packets"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return iperfResult{}, fmt.Errorf("decode iperf3 JSON: %w", err)
	}
	if doc.Error != "" {
		return iperfResult{}, fmt.Errorf("iperf3: %s", doc.Error)
	}
	r := doc.End.SumReceived
	if r == nil {
		return iperfResult{}, errors.New("iperf3 JSON has no end.sum_received")
	}
	if r.Seconds <= 0 {
		return iperfResult{}, fmt.Errorf("iperf3 JSON: end.sum_received.seconds is %v", r.Seconds)
	}
	return iperfResult{Seconds: r.Seconds, Bytes: r.Bytes, BitsPerSecond: r.BitsPerSecond, Datagrams: r.Packets - r.LostPackets}, nil
}

var pingTime = regexp.MustCompile(`^\d+ bytes from .* time=([0-9.]+) ms`)

// parsePingTimes returns the round-trip time of every echo reply that
// iputils ping printed, duplicates left out.
func parsePingTimes(out string) ([]time.Duration, error) {
	var rtts []time.Duration
	for line := range strings.Lines(out) {
		m := pingTime.FindStringSubmatch(line)
		if m == nil || strings.Contains(line, "(DUP!)") {
			continue
		}
		ms, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return nil, fmt.Errorf("ping time %q: %w", m[1], err)
		}
		rtts = append(rtts, time.Duration(ms*float64(time.Millisecond)))
	}
	return rtts, nil
}

// cpuTimes are the jiffies of /proc/stat's "cpu" line, all cores added.
type cpuTimes struct {
	Busy, Total uint64
}

// parseCPUTimes reads the first line of /proc/stat: user nice system idle
// iowait irq softirq steal guest guest_nice. Busy is everything but idle
// and iowait; guest time is already counted in user.
func parseCPUTimes(stat string) (cpuTimes, error) {
	line, _, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(fields[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: field %d of the cpu line: %w", i+1, err)
		}
		v[i] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq + steal
	return cpuTimes{Busy: busy, Total: busy + idle + iowait}, nil
}

// parseStatusBytes returns a "kB" field of /proc/PID/status, such as VmHWM,
// in bytes.
func parseStatusBytes(status, field string) (uint64, error) {
	for line := range strings.Lines(status) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(value), " kB")
		if !ok {
			return 0, fmt.Errorf("status field %s: %q is not in kB", field, strings.TrimSpace(value))
		}
		n, err := strconv.ParseUint(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status field %s: %w", field, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no %s in process status", field)
}

// parseReassemblies returns how many IP fragments a namespace received for
// reassembly: Ip ReasmReqds of /proc/net/snmp plus Ip6ReasmReqds of
// /proc/net/snmp6.
func parseReassemblies(snmp, snmp6 string) (uint64, error) {
	v4, err := snmpField(snmp, "Ip", "ReasmReqds")
	if err != nil {
		return 0, err
	}
	v6, err := snmp6Field(snmp6, "Ip6ReasmReqds")
	if err != nil {
		return 0, err
	}
	return v4 + v6, nil
}

// snmpField reads /proc/net/snmp, where each protocol has a line of names
// followed by a line of values, both starting with "Proto:".
func snmpField(snmp, proto, name string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(snmp))
	for sc.Scan() {
		names := strings.Fields(sc.Text())
		if len(names) == 0 || names[0] != proto+":" || !sc.Scan() {
			continue
		}
		values := strings.Fields(sc.Text())
		for i, n := range names {
			if n == name && i < len(values) {
				v, err := strconv.ParseUint(values[i], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("/proc/net/snmp %s %s: %w", proto, name, err)
				}
				return v, nil
			}
		}
	}
	return 0, fmt.Errorf("/proc/net/snmp has no %s %s", proto, name)
}

// snmp6Field reads /proc/net/snmp6, one "Name value" pair a line.
func snmp6Field(snmp6, name string) (uint64, error) {
	for line := range strings.Lines(snmp6) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/net/snmp6 %s: %w", name, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("/proc/net/snmp6 has no %s", name)
}

var routeDev = regexp.MustCompile(`\bdev (\S+)`)

// parseRouteDev returns the interface of `ip route get ADDR`.
func parseRouteDev(out string) (string, error) {
	m := routeDev.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no device in route %q", strings.TrimSpace(out))
	}
	return m[1], nil
}

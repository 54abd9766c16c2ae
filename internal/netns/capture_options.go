package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"time"
)

// StopWith stops the capture as Stop does and decodes it with extra tshark
// arguments, such as "-o", "esp.enable_encryption_decode:TRUE" and the
// keys of an "-o", "uat:esp_sa:..." table. The file stays until the lab
// closes: File names it, for other readers such as scapy's rdpcap.
func (c *Capture) StopWith(tsharkArgs ...string) ([]Packet, error) {
	time.Sleep(flushDelay)
	if err := c.proc.stop(syscall.SIGINT); err != nil {
		return nil, fmt.Errorf("stop capture: %w", err)
	}
	return ReadPackets(c.file, tsharkArgs...)
}

// File returns the pcapng file the capture writes; it is complete once
// Stop or StopWith has returned.
func (c *Capture) File() string { return c.file }

// ReadPackets decodes a capture file with `tshark -T json`, as Stop does,
// with extra tshark arguments.
func ReadPackets(file string, tsharkArgs ...string) ([]Packet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	// --no-duplicate-keys turns the layers that tshark repeats for nested
	// headers, such as the two "ip" of IPv4 in IPv4, into JSON arrays.
	// Without reassembly, each frame decodes as it was on the wire: the
	// first fragment with the headers it carries, the last without.
	args := append([]string{"-n", "-r", file,
		"-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-T", "json", "--no-duplicate-keys"}, tsharkArgs...)
	out, err := command(ctx, "tshark", args...)
	if err != nil {
		return nil, err
	}
	var frames []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal([]byte(out), &frames); err != nil {
		return nil, fmt.Errorf("decode tshark output of %s: %w", file, err)
	}
	packets := make([]Packet, len(frames))
	for i, f := range frames {
		if packets[i], err = decodePacket(f.Source.Layers); err != nil {
			return nil, fmt.Errorf("packet %d of %s: %w", i+1, file, err)
		}
	}
	return packets, nil
}

package main

import (
	"fmt"
	"os"
	"strings"
)

// The README lines between which the latest table goes.
const (
	readmeBegin = "<!-- bench:begin -->"
	readmeEnd   = "<!-- bench:end -->"
)

// replaceBlock returns doc with the lines between the begin and end
// marker lines replaced by block.
func replaceBlock(doc, block string) (string, error) {
	head, rest, ok := strings.Cut(doc, readmeBegin+"\n")
	if !ok {
		return "", fmt.Errorf("no line %q", readmeBegin)
	}
	_, tail, ok := strings.Cut(rest, readmeEnd+"\n")
	if !ok {
		return "", fmt.Errorf("no line %q after %q", readmeEnd, readmeBegin)
	}
	if strings.Contains(tail, readmeBegin) {
		return "", fmt.Errorf("%q appears twice", readmeBegin)
	}
	if !strings.HasSuffix(block, "\n") {
		block += "\n"
	}
	return head + readmeBegin + "\n" + block + readmeEnd + "\n" + tail, nil
}

// updateReadme rewrites the block of the README at path.
func updateReadme(path, block string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	out, err := replaceBlock(string(doc), block)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}

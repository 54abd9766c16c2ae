package hostname

import (
	"errors"
	"fmt"
	"strings"
)

// blanks separate words.
const blanks = " \t"

// quotedEscapes are the characters a backslash escapes inside double
// quotes, as in sh(1).
const quotedEscapes = "\"\\$`"

// splitWords splits a line of a hostname.if file into words, as described
// in the package comment.
func splitWords(line string) ([]string, error) {
	var words []string
	var w []byte
	inWord := false
scan:
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\t':
			if inWord {
				words = append(words, string(w))
				w, inWord = w[:0], false
			}
		case '#':
			break scan
		case '\\':
			if i+1 == len(line) {
				return nil, errors.New("line ends in a backslash; gif does not join lines")
			}
			i++
			w, inWord = append(w, line[i]), true
		case '"':
			open := i
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(quotedEscapes, line[i+1]) >= 0 {
					i++
				}
				w = append(w, line[i])
			}
			if i == len(line) {
				return nil, fmt.Errorf("double quote at column %d is not closed on its line", open+1)
			}
		default:
			w, inWord = append(w, c), true
		}
	}
	if inWord {
		words = append(words, string(w))
	}
	return words, nil
}

// fileWord returns w written so that splitWords reads it back: as it is,
// or double-quoted when it is empty or holds a blank, a control character
// or a character that splitWords or sh(1) treats specially. w must not hold
// a newline, which ends a line whatever the quoting.
func fileWord(w string) string {
	plain := w != ""
	for i := range len(w) {
		if c := w[i]; c < 0x20 || c == 0x7f || strings.IndexByte(" \"\\#'$`", c) >= 0 {
			plain = false
		}
	}
	if plain {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(w) {
		if strings.IndexByte(quotedEscapes, w[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

// shellQuote returns w as one word of a sh(1) command line: as it is when
// it holds only characters sh takes literally, else single-quoted.
func shellQuote(w string) string {
	isSafe := func(r rune) bool {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_./:,+=@%", r)
	}
	if w != "" && strings.IndexFunc(w, func(r rune) bool { return !isSafe(r) }) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

package ipsecconf

import (
	"fmt"
	"strings"
)

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokNewline
	tokWord   // unquoted: a keyword, or a string where the grammar wants one
	tokString // quoted: always a string, never a keyword
	tokPunct  // one byte that starts no word: / = { } , ( ) and any other
)

type token struct {
	kind tokenKind
	text string
	line int
}

// is reports whether t is one of the unquoted words; a quoted "esp" is a
// string, as in ipsecctl.
// word returns what parse makes of t when t is an unquoted word: the
// value of an enum of the policy model that ipsec.conf writes as a word.
func word[T any](t token, parse func(string) (T, bool)) (T, bool) {
	if t.kind != tokWord {
		var zero T
		return zero, false
	}
	return parse(t.text)
}

func (t token) is(words ...string) bool {
	if t.kind != tokWord {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (t token) isPunct(c string) bool { return t.kind == tokPunct && t.text == c }

// isValue reports whether t can be a string: quoted, or a word that is no
// keyword.
func (t token) isValue() bool {
	return t.kind == tokString || t.kind == tokWord && !keywords[t.text]
}

// keywords are ipsecctl's reserved words (parse.y r1.183): unquoted, they
// are never a string, and no macro may be named after one.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`acquire active aggressive ah any auth
		authkey bundle bypass comp deny dontacq dstid dynamic enc enckey esp
		file flow from group ike in include interface ipcomp ipip lifetime
		local main out passive peer port proto psk quick require rsa spi
		srcid tag tcpmd5 to transport tunnel type udpencap use`) {
		keywords[k] = true
	}
}

// A lexer splits a file into tokens as ipsecctl's yylex does:
//   - blanks separate words; a backslash at the end of a line joins it to
//     the next, anywhere (in a word, a comment or a quoted string), and
//     before any other byte outside quotes stands for that byte;
//   - # starts a comment that runs to the end of the line;
//   - "..." and '...' are strings, in which a newline is dropped, and a
//     backslash before the quote or a blank stands for it;
//   - $name at the start of a token is replaced by the macro's value, read
//     again as input, but not inside quotes or inside another macro's
//     value; the value joins what follows it ("$net.1").
type lexer struct {
	file   string
	data   []byte
	pos    int
	line   int
	macros map[string]string
	// macro is the rest of the value of the macro being read, which comes
	// before data; fromMacro is whether getc's last byte came from it.
	macro     string
	fromMacro bool
}

// lexState is where a lexer is, to go back to after reading one byte too
// many.
type lexState struct {
	pos, line int
	macro     string
}

func (l *lexer) state() lexState    { return lexState{l.pos, l.line, l.macro} }
func (l *lexer) restore(s lexState) { l.pos, l.line, l.macro = s.pos, s.line, s.macro }

func isAlnum(c int) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

func isWordStart(c int) bool { return isAlnum(c) || c == ':' || c == '_' || c == '*' }

// isWordByte reports whether c goes on a word: a letter, a digit, or
// printable punctuation but for the bytes that are tokens of their own.
func isWordByte(c int) bool {
	return isAlnum(c) || 0x21 <= c && c <= 0x7e && !strings.ContainsRune("(){}<>!=/#,", rune(c))
}

func (l *lexer) errorf(line int, token, format string, args ...any) error {
	return &Error{File: l.file, Line: line, Token: token, Err: fmt.Errorf(format, args...)}
}

// rawc returns the next byte as it is, and -1 at the end of the data.
func (l *lexer) rawc() int {
	if l.fromMacro = l.macro != ""; l.fromMacro {
		c := l.macro[0]
		l.macro = l.macro[1:]
		return int(c)
	}
	if l.pos >= len(l.data) {
		return -1
	}
	c := l.data[l.pos]
	l.pos++
	if c == '\n' {
		l.line++
	}
	return int(c)
}

// getc returns the next byte outside quotes: a backslash and a newline are
// skipped, and a backslash and any other byte are that byte.
func (l *lexer) getc() int {
	for {
		c := l.rawc()
		if c != '\\' || l.fromMacro {
			return c
		}
		next := l.rawc()
		if next != '\n' {
			return next
		}
	}
}

// rule returns the tokens of the next rule: those up to the end of a line
// or of the file, which it returns as end.
func (l *lexer) rule() (toks []token, end token, err error) {
	for {
		t, err := l.next()
		if err != nil {
			return nil, token{}, err
		}
		if t.kind == tokNewline || t.kind == tokEOF {
			return toks, t, nil
		}
		toks = append(toks, t)
	}
}

func (l *lexer) next() (token, error) {
	for {
		s := l.state()
		c := l.getc()
		line := l.line
		if c == '\n' && !l.fromMacro {
			line-- // the newline counted itself
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			continue
		case c == '#':
			for c != '\n' && c != -1 {
				c = l.getc()
			}
			if c == '\n' {
				return token{kind: tokNewline, line: l.line - 1}, nil
			}
			return token{kind: tokEOF, line: l.line}, nil
		case c == -1:
			return token{kind: tokEOF, line: line}, nil
		case c == '\n':
			return token{kind: tokNewline, line: line}, nil
		case c == '$' && !l.fromMacro:
			if err := l.expand(line); err != nil {
				return token{}, err
			}
			continue
		case c == '"' || c == '\'':
			return l.quoted(c, line)
		case isWordStart(c):
			l.restore(s)
			return l.word(line), nil
		}
		return token{kind: tokPunct, text: string(rune(c)), line: line}, nil
	}
}

// expand reads the name of the macro after a $ and makes its value the next
// input.
func (l *lexer) expand(line int) error {
	var name strings.Builder
	for {
		s := l.state()
		c := l.getc()
		if !isAlnum(c) && c != '_' {
			l.restore(s)
			break
		}
		name.WriteByte(byte(c))
	}
	value, ok := l.macros[name.String()]
	if !ok {
		if name.Len() == 0 {
			return l.errorf(line, "$", "a $ must be followed by the name of a macro")
		}
		return l.errorf(line, "$"+name.String(), "macro %s is not defined", name.String())
	}
	l.macro = value
	return nil
}

func (l *lexer) word(line int) token {
	var b strings.Builder
	for {
		s := l.state()
		c := l.getc()
		if !isWordByte(c) {
			l.restore(s)
			return token{kind: tokWord, text: b.String(), line: line}
		}
		b.WriteByte(byte(c))
	}
}

func (l *lexer) quoted(quote, line int) (token, error) {
	var b strings.Builder
	for {
		c := l.rawc()
		switch c {
		case -1:
			return token{}, l.errorf(line, string(rune(quote)), "the quoted string that starts here does not end")
		case '\n':
			continue
		case quote:
			return token{kind: tokString, text: b.String(), line: line}, nil
		case '\\':
			s := l.state()
			switch next := l.rawc(); next {
			case quote, ' ', '\t':
				c = next
			case '\n':
				continue
			default:
				l.restore(s)
			}
		}
		b.WriteByte(byte(c))
	}
}

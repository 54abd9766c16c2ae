// Package hostname reads OpenBSD's interface configuration files,
// hostname.if(5), and sysctl.conf(5), as gif netstart applies them, and
// writes the running configuration back as hostname.if files. It does no
// I/O but LoadDir's reading of a directory.
//
// A hostname.IF file is read line by line, as OpenBSD's netstart (r1.180,
// r1.229) reads it, into steps that gif runs in order:
//
//	inet [alias] ADDR [MASK|PREFIXLEN [BROADCAST|NONE]] [options]
//	inet6 [alias] ADDR [PREFIXLEN] [options]
//	dest ADDR                  the destination of the inet or inet6 line before
//	!command                   run by /bin/sh, $if replaced by the interface name
//	# comment
//	anything else              arguments of "gif ifconfig IF"
//
// The inet and inet6 lines are netstart's packed formats: they become
// "inet [alias] ADDR netmask MASK broadcast BROADCAST options" and
// "inet6 [alias] ADDR prefixlen PREFIXLEN options", and dest inserts its
// address after ADDR. Every ifconfig step is parsed with ifconfig.Parse
// when the file is read, so a file with an error is rejected whole, before
// any of it runs.
//
// Where netstart's behaviour is not copied as it is, this package decides:
//   - The second word of an inet line is a netmask, as in netstart, never
//     the destination it is on ifconfig's command line. When, on a gif, it
//     is an IPv4 address that is no netmask ("inet 10.0.0.1 10.0.0.2"), the
//     file is rejected with an error that says so and how to write a
//     destination: gif, like Linux, refuses a netmask whose ones are not
//     contiguous, so the line cannot be kept with netstart's meaning. A decimal number
//     there is a prefix length ("inet 10.0.0.1 24").
//   - The same holds for an IPv6 address where inet6 wants a prefix length.
//   - dest must follow an inet or inet6 line, once, and takes one
//     address; netstart silently mangles or drops any other.
//   - dhcp, rtsol and autoconf are refused: gif configures no address
//     dynamically.
//   - Words are split as sh(1) splits them, without expansions: blanks
//     separate words, double quotes group them, and a backslash escapes
//     the next character (inside double quotes only ", \, $ and `). A #
//     outside quotes starts a comment, even inside a word, as hostname.if(5)
//     says ("anything following a comment character"). Single quotes are
//     ordinary characters. A quote must close on its line.
//   - In a ! line both "$if" and "\$if" are replaced. netstart reads the
//     file with read(1) without -r, which turns "\$if" into "$if" before
//     its sed replaces "$if"; so hostname.if(5)'s "\$if" is not needed, and
//     either works. As with sed, "$ifoo" becomes "gif0oo". The rest of the
//     line goes to sh as it is, comments included.
//   - A line may end in CR LF.
package hostname

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

// File is one hostname.IF file, read.
type File struct {
	Name      string // the file's name, as errors and warnings give it
	Interface string // the IF of hostname.IF
	Steps     []Step
	// Warnings are things that do not stop the file from running but
	// deserve a look, each starting with the file's name.
	Warnings []string
}

// A Step is one command of a file: an ifconfig command for the file's
// interface, or a shell command.
type Step struct {
	Line int // the line it came from, from 1
	// Args are the arguments of "gif ifconfig IF", and Ops are Args parsed,
	// for an ifconfig step.
	Args []string
	Ops  []tunnel.Op
	// Shell is the command of a shell step, with $if replaced; "" for an
	// ifconfig step.
	Shell string
}

// Error reports what is wrong in a configuration file: the first error of
// a hostname.IF or sysctl.conf file, or a file LoadDir cannot read.
type Error struct {
	File string
	Line int // 0 when the error is about the whole file
	// Err is an *ifconfig.ArgError for a wrong ifconfig argument, an
	// *ifconfig.NameError for a file whose IF names no interface gif
	// configures, or any other error.
	Err error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	var ae *ifconfig.ArgError
	if errors.As(e.Err, &ae) {
		// The argument's position means nothing in a file; its words do.
		msg = fmt.Sprintf("%q: %s", ae.Token, ae.Reason)
	}
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ParseFile reads the hostname.IF file called name (used in messages) for
// the interface ifname. On any error it returns only the first, an *Error.
func ParseFile(name, ifname string, data []byte) (*File, error) {
	if _, err := ifconfig.Parse(ifname, nil); err != nil {
		return nil, &Error{File: name, Err: err}
	}
	p := fileParser{file: &File{Name: name, Interface: ifname}}
	for i, line := range strings.Split(string(data), "\n") {
		if err := p.line(i+1, strings.TrimSuffix(line, "\r")); err != nil {
			return nil, &Error{File: name, Line: i + 1, Err: err}
		}
	}
	return p.file, nil
}

type fileParser struct {
	file *File
	// hasDest is whether a dest line has set the last step's destination.
	hasDest bool
}

func (p *fileParser) line(n int, text string) error {
	if cmd, ok := strings.CutPrefix(strings.TrimLeft(text, blanks), "!"); ok {
		return p.shell(n, cmd)
	}
	words, err := splitWords(text)
	if err != nil || len(words) == 0 {
		return err
	}
	args := words
	switch words[0] {
	case "dest":
		return p.dest(words)
	case "dhcp", "rtsol":
		return errDynamic(words[0])
	case "inet", "inet6":
		if len(words) > 1 && words[1] == "autoconf" {
			return errDynamic(words[0] + " autoconf")
		}
		if err := p.pitfall(words); err != nil {
			return err
		}
		args = unpack(words)
	}
	return p.ifconfig(n, args)
}

func (p *fileParser) ifconfig(n int, args []string) error {
	ops, err := ifconfig.Parse(p.file.Interface, args)
	if err != nil {
		return err
	}
	p.file.Steps = append(p.file.Steps, Step{Line: n, Args: args, Ops: ops})
	p.hasDest = false
	return nil
}

// ifReplacer replaces the interface-name variable in a shell command, in
// both the forms netstart takes (see the package comment).
func ifReplacer(ifname string) *strings.Replacer {
	return strings.NewReplacer(`\$if`, ifname, `$if`, ifname)
}

func (p *fileParser) shell(n int, cmd string) error {
	cmd = strings.Trim(cmd, blanks+"\r")
	switch {
	case cmd == "":
		return errors.New("! without a command")
	case strings.IndexByte(cmd, 0) >= 0:
		return errors.New("command contains a NUL byte")
	}
	cmd = ifReplacer(p.file.Interface).Replace(cmd)
	p.file.Steps = append(p.file.Steps, Step{Line: n, Shell: cmd})
	p.hasDest = false
	return nil
}

func errDynamic(what string) error {
	return fmt.Errorf("%s: gif configures no address dynamically (no DHCP, no IPv6 autoconfiguration); "+
		"give a gif a static address with inet or inet6, and leave other interfaces' addresses to the host's own tools", what)
}

// nameIndex returns the index of the address in the words of an inet or
// inet6 line: after "alias", if there is one.
func nameIndex(words []string) int {
	if len(words) > 1 && words[1] == "alias" {
		return 2
	}
	return 1
}

// unpack turns a packed inet or inet6 line into ifconfig arguments, as
// netstart's parse_hn_line does: the word after the address is a netmask
// (inet) or a prefix length (inet6), and for inet the next one the
// broadcast address, NONE for none. A decimal netmask is a prefix length.
func unpack(words []string) []string {
	mask := nameIndex(words) + 1
	args := slices.Clone(words[:min(mask, len(words))])
	if mask < len(words) {
		m := words[mask]
		keyword := "prefixlen"
		if words[0] == "inet" && !isDecimal(m) {
			keyword = "netmask"
		}
		args = append(args, keyword, m)
	}
	rest := mask + 1
	if words[0] == "inet" && rest < len(words) {
		if b := words[rest]; b != "NONE" {
			args = append(args, "broadcast", b)
		}
		rest++
	}
	if rest < len(words) {
		args = append(args, words[rest:]...)
	}
	return args
}

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// pitfall refuses an inet or inet6 line of a gif whose second word is an
// address where netstart wants a netmask or prefix length: written as on
// ifconfig's command line, for a destination.
func (p *fileParser) pitfall(words []string) error {
	mask := nameIndex(words) + 1
	if !tunnel.IsGif(p.file.Interface) || mask >= len(words) {
		return nil
	}
	a, err := netip.ParseAddr(words[mask])
	if err != nil {
		return nil
	}
	line := strings.Join(words, " ")
	switch {
	case words[0] == "inet" && a.Is4() && !isNetmask(a):
		return fmt.Errorf("%s: the second address is a netmask here (hostname.if(5)); "+
			"for a point-to-point destination write \"dest %s\" on the next line", line, a)
	case words[0] == "inet6" && a.Is6():
		return fmt.Errorf("%s: the second word is a prefix length here (hostname.if(5)); "+
			"for a point-to-point destination write \"inet6 %s 128\" and \"dest %s\" on the next line",
			line, words[mask-1], a)
	}
	return nil
}

// isNetmask reports whether a is an IPv4 netmask: ones, then zeros.
func isNetmask(a netip.Addr) bool {
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	host := ^m
	return m != 0 && host&(host+1) == 0
}

// dest inserts the destination address after the address of the previous
// step, which must be an inet or inet6 line, and parses that step again.
func (p *fileParser) dest(words []string) error {
	if len(words) != 2 {
		return fmt.Errorf("%q: want dest ADDR, one address", strings.Join(words, " "))
	}
	steps := p.file.Steps
	if len(steps) == 0 || !steps[len(steps)-1].setsAddress() {
		return errors.New("dest must follow an inet or inet6 line, whose destination it sets")
	}
	if p.hasDest {
		return errors.New("a second dest for the same address")
	}
	prev := &steps[len(steps)-1]
	at := nameIndex(prev.Args) + 1
	args := slices.Insert(slices.Clone(prev.Args), at, words[1])
	ops, err := ifconfig.Parse(p.file.Interface, args)
	if err != nil {
		return err
	}
	prev.Args, prev.Ops = args, ops
	p.hasDest = true
	return nil
}

// setsAddress reports whether s is an inet or inet6 line.
func (s *Step) setsAddress() bool {
	return s.Shell == "" && (s.Args[0] == "inet" || s.Args[0] == "inet6")
}

// Commands returns what gif runs for the file, one shell command line a
// step, as netstart -n prints them:
//
//	gif ifconfig gif0 tunnel 192.0.2.1 198.51.100.1
//	/bin/sh -c 'ipsecctl -f /etc/ipsec.conf'
func (f *File) Commands() []string {
	cmds := make([]string, 0, len(f.Steps))
	for _, s := range f.Steps {
		if s.Shell != "" {
			cmds = append(cmds, "/bin/sh -c "+shellQuote(s.Shell))
			continue
		}
		words := []string{"gif", "ifconfig", shellQuote(f.Interface)}
		for _, a := range s.Args {
			words = append(words, shellQuote(a))
		}
		cmds = append(cmds, strings.Join(words, " "))
	}
	return cmds
}

// Transaction returns the ifconfig steps among steps as one transaction
// for f's interface, each command at its line. With create, the
// interface's creation comes first, at the line of the first step (1 in a
// file without any), so that an error there names a line too.
func (f *File) Transaction(steps []Step, create bool) tunnel.Transaction {
	t := tunnel.Transaction{File: f.Name}
	if create {
		line := 1
		if len(steps) > 0 {
			line = steps[0].Line
		}
		t.Commands = append(t.Commands, tunnel.Command{Name: f.Interface, Ops: []tunnel.Op{{Kind: tunnel.OpCreate, Token: "create"}}, Line: line})
	}
	for _, s := range steps {
		if s.Shell == "" {
			t.Commands = append(t.Commands, tunnel.Command{Name: f.Interface, Ops: s.Ops, Line: s.Line})
		}
	}
	return t
}

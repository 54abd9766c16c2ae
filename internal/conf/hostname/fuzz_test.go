package hostname

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

// fuzzNames are the interfaces FuzzParseFile reads files for: one of each
// grammar and a name that names none. None starts with "f" or "if": the
// single pass that replaces $if, here as in netstart, can leave a new $if
// ("$i$if" becomes "$ifxp1" for fxp1), which would read differently again.
var fuzzNames = []string{"gif0", "bridge0", "em1", "gif01"}

// fileSeeds are hostname.IF files for the fuzz targets that read one.
var fileSeeds = []string{
	"tunnel 1.2.3.4 4.3.2.1\nup\n",
	"add gif0 add em1\nup link2\n",
	"inet alias 192.0.2.1 255.255.255.255 NONE mtu 1400\ndest 192.0.2.2\n",
	"inet 10.0.0.1 10.0.0.2\n",
	"inet 192.0.2.1 255.255.255.252 192.0.2.2\ninet 192.0.2.9 24 NONE delete\n",
	"inet6 alias 2001:db8::1 128\ndest 2001:db8::2\n-inet6\n",
	"# comment\n\n\tdescription \"a \\\"b\\\" # c\" # d\r\n",
	"!ipsecctl -f /etc/ipsec.conf\n!echo $if \\$if $i$if\n",
	"description it's\\ here\ntunnelttl copy\n-tunnelecn\ntunneldomain 7\n",
	"tunnel 2001:db8::a 2001:db8::b\n-fastpath\nup\n", "fastpath\n",
	"dhcp\n", "dest 10.0.0.1\n", "description \"abc\n", "mtu 1500\nup\n",
}

// FuzzParseFile feeds ParseFile a file for an interface of fuzzNames. It
// must not panic; an error must be an *Error naming the file and a line of
// it; an accepted file's steps must be in line order, hold their args
// parsed, and give the same commands when written again as a file.
func FuzzParseFile(f *testing.F) {
	for i, s := range fileSeeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, n uint8, data []byte) {
		ifname := fuzzNames[int(n)%len(fuzzNames)]
		name := "hostname." + ifname
		lines := strings.Count(string(data), "\n") + 1
		file, err := ParseFile(name, ifname, data)
		if err != nil {
			var fe *Error
			var ne *ifconfig.NameError
			switch {
			case !errors.As(err, &fe) || file != nil:
				t.Fatalf("ParseFile(%s, %q) = %v, %v; want only an *Error", ifname, data, file, err)
			case fe.File != name || fe.Line < 0 || fe.Line > lines || (fe.Line == 0) != errors.As(err, &ne):
				t.Fatalf("ParseFile(%s, %q): error %v at %s:%d", ifname, data, err, fe.File, fe.Line)
			case !strings.HasPrefix(err.Error(), name+":"):
				t.Fatalf("ParseFile(%s, %q): error %q does not start with the file name", ifname, data, err)
			}
			return
		}
		last := 0
		for _, s := range file.Steps {
			if s.Line <= last || s.Line > lines {
				t.Fatalf("ParseFile(%s, %q): step %+v out of line order", ifname, data, s)
			}
			last = s.Line
			if s.Shell != "" {
				if s.Args != nil || s.Ops != nil {
					t.Fatalf("ParseFile(%s, %q): shell step %+v has args", ifname, data, s)
				}
				continue
			}
			ops, err := ifconfig.Parse(ifname, s.Args)
			if err != nil || !slices.Equal(ops, s.Ops) {
				t.Fatalf("ParseFile(%s, %q): step %+v: ops are not its args parsed (%v)", ifname, data, s, err)
			}
		}
		if len(file.Commands()) != len(file.Steps) {
			t.Fatalf("ParseFile(%s, %q): %d commands for %d steps", ifname, data, len(file.Commands()), len(file.Steps))
		}

		text := rewrite(file)
		again, err := ParseFile(name, ifname, text)
		if err != nil {
			t.Fatalf("ParseFile(%s, %q) written again as\n%s\ngives %v", ifname, data, text, err)
		}
		if got, want := program(again), program(file); !slices.Equal(got, want) {
			t.Fatalf("ParseFile(%s, %q) written again as\n%s\nreads as\n%q\nnot\n%q", ifname, data, text, got, want)
		}
	})
}

// rewrite writes a file's steps again: its ops as Running writes them, and
// its shell commands after a !.
func rewrite(f *File) []byte {
	var b strings.Builder
	for _, s := range f.Steps {
		if s.Shell != "" {
			fmt.Fprintf(&b, "!%s\n", s.Shell)
			continue
		}
		b.Write(render(s.Ops))
	}
	return []byte(b.String())
}

// program returns what a file does, an op (Token aside) or a shell command
// a string, whatever its lines.
func program(f *File) []string {
	var out []string
	for _, s := range f.Steps {
		if s.Shell != "" {
			out = append(out, "sh "+s.Shell)
		}
		for _, op := range s.Ops {
			op.Token = ""
			out = append(out, fmt.Sprintf("op %+v", op))
		}
	}
	return out
}

// FuzzParseSysctlConf feeds ParseSysctlConf any text. It must not panic;
// an error must be an *Error naming a line; accepted settings must be
// variables gif knows, with values it takes, and read the same when
// written again.
func FuzzParseSysctlConf(f *testing.F) {
	for _, s := range []string{
		"net.inet.etherip.allow=1 # c\n\n net.inet.ipip.allow = 2\r\n",
		"net.inet.ip.forwarding=1\n", "net.inet.ipip.allow=3\n", "# only\n", "=\n", "a=b=c\n",
		"net.inet.gif.fastpath=0\n", "net.inet.gif.fastpath=2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + 1
		settings, err := ParseSysctlConf("sysctl.conf", data)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || settings != nil || fe.File != "sysctl.conf" || fe.Line < 1 || fe.Line > lines {
				t.Fatalf("ParseSysctlConf(%q) = %+v, %v; want only an *Error at a line", data, settings, err)
			}
			return
		}
		var b strings.Builder
		for _, s := range settings {
			var scratch tunnel.Sysctl
			if err := scratch.Set(s.Name, s.Value); err != nil || s.Line < 1 || s.Line > lines {
				t.Fatalf("ParseSysctlConf(%q): setting %+v: %v", data, s, err)
			}
			fmt.Fprintf(&b, "%s=%s\n", s.Name, s.Value)
		}
		again, err := ParseSysctlConf("sysctl.conf", []byte(b.String()))
		if err != nil || len(again) != len(settings) {
			t.Fatalf("ParseSysctlConf(%q) written again as %q gives %+v, %v", data, b.String(), again, err)
		}
		for i := range again {
			if again[i].Name != settings[i].Name || again[i].Value != settings[i].Value {
				t.Fatalf("ParseSysctlConf(%q) written again as %q gives %+v", data, b.String(), again)
			}
		}
	})
}

// fuzzEnv is a host whose only interface a bridge may take is em1.
type fuzzEnv struct{}

func (fuzzEnv) IsLocal(a netip.Addr) bool { return a == netip.MustParseAddr("1.2.3.4") }
func (fuzzEnv) NewLLAddr() tunnel.LLAddr  { return fixedLLAddr }
func (fuzzEnv) Ethernet(name string) (exists, ethernet bool) {
	return name == "em1" || name == "lo", name == "em1"
}

// fuzzRunning is the state FuzzTransaction applies files to: gif0 and
// bridge0 may exist or not, and gif5 is a member of bridge1.
func fuzzRunning(t *testing.T, n uint8) tunnel.State {
	var s tunnel.State
	for _, c := range []tunnel.Command{
		{Name: "bridge1", Ops: []tunnel.Op{{Kind: tunnel.OpBridgeAdd, Token: "add gif5", Text: "gif5"}}},
		{Name: "gif0", Ops: []tunnel.Op{{Kind: tunnel.OpMTU, Token: "mtu 1400", Int: 1400}}},
		{Name: "bridge0", Ops: []tunnel.Op{{Kind: tunnel.OpUp, Token: "up"}}},
	}[:1+int(n>>6)%3] {
		var err error
		if s, _, err = s.Apply(c.Name, c.Ops, fuzzEnv{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// FuzzTransaction feeds a file through what netstart does with it:
// ParseFile, the file's steps as one Transaction, with the creation of
// its gif or bridge when the running state has none, and
// State.ApplyTransaction. It must not panic; the transaction must do what
// its commands do one after the other; a failing one must leave the state
// as it was and its error start with "FILE:LINE: " for the line of the
// command that failed. The files are seeds in testdata.
func FuzzTransaction(f *testing.F) {
	for i, s := range fileSeeds {
		f.Add(uint8(i), []byte(s))
	}
	for _, seed := range []struct {
		n    uint8
		file string
	}{
		{1, "add gif5\n"},
		{0 | 2<<6, "create\nup\n"},
		{0, "up\n!true\ntunnelttl 0\n"},
		{1 | 2<<6, "add gif0 add lo\n"},
		{0, "destroy\nup\n-inet6\ninet 192.0.2.1 255.255.255.0\ninet 192.0.2.2 255.255.255.0 delete\ninet 192.0.2.1 delete\n"},
	} {
		f.Add(seed.n, []byte(seed.file))
	}
	f.Fuzz(func(t *testing.T, n uint8, data []byte) {
		ifname := fuzzNames[int(n)%len(fuzzNames)]
		name := "hostname." + ifname
		file, err := ParseFile(name, ifname, data)
		if err != nil {
			return // FuzzParseFile's
		}
		running := fuzzRunning(t, n)
		_, isGif := running.Find(ifname)
		_, isBridge := running.FindBridge(ifname)
		create := (tunnel.IsGif(ifname) || tunnel.IsBridge(ifname)) && !isGif && !isBridge
		tx := file.Transaction(file.Steps, create)
		for _, c := range tx.Commands {
			if c.Name != ifname || c.Line < 1 || c.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("%s %q: command %+v is not of the file's interface at one of its lines", name, data, c)
			}
		}
		next, _, err := running.ApplyTransaction(tx, fuzzEnv{})

		want, failed := running, -1
		for i, c := range tx.Commands {
			if !tunnel.IsGif(c.Name) && !tunnel.IsBridge(c.Name) {
				continue
			}
			var one error
			if want, _, one = want.Apply(c.Name, c.Ops, fuzzEnv{}); one != nil {
				failed = i
				break
			}
		}
		if failed < 0 {
			if err != nil || !reflect.DeepEqual(next, want) {
				t.Fatalf("%s %q: transaction gives %+v, %v; its commands one by one %+v", name, data, next, err, want)
			}
			return
		}
		prefix := fmt.Sprintf("%s:%d: ", name, tx.Commands[failed].Line)
		switch {
		case err == nil:
			t.Fatalf("%s %q: transaction applies; command %d alone fails", name, data, failed)
		case !strings.HasPrefix(err.Error(), prefix):
			t.Fatalf("%s %q: error %q does not start with %q", name, data, err, prefix)
		case !reflect.DeepEqual(next, running):
			t.Fatalf("%s %q: a failed transaction gave %+v, not the state before", name, data, next)
		}
	})
}

package hostname

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		ifname string
		file   string
		want   []string // Commands
	}{
		{"gif0", "tunnel 1.2.3.4 4.3.2.1\nup\n", []string{
			"gif ifconfig gif0 tunnel 1.2.3.4 4.3.2.1",
			"gif ifconfig gif0 up",
		}},
		{"gif0", "inet 10.0.0.1 255.255.255.0", []string{"gif ifconfig gif0 inet 10.0.0.1 netmask 255.255.255.0"}},
		{"gif0", "inet 10.0.0.1 0xffffff00", []string{"gif ifconfig gif0 inet 10.0.0.1 netmask 0xffffff00"}},
		{"gif0", "inet 10.0.0.1 24", []string{"gif ifconfig gif0 inet 10.0.0.1 prefixlen 24"}},
		{"gif0", "inet 10.0.0.1/24", []string{"gif ifconfig gif0 inet 10.0.0.1/24"}},
		{"gif0", "inet alias 192.0.2.1 255.255.255.255 NONE", []string{
			"gif ifconfig gif0 inet alias 192.0.2.1 netmask 255.255.255.255",
		}},
		{"gif0", "inet 192.0.2.1 255.255.255.252 192.0.2.2", []string{
			"gif ifconfig gif0 inet 192.0.2.1 netmask 255.255.255.252 broadcast 192.0.2.2",
		}},
		{"gif0", "inet 192.0.2.1 255.255.255.0 NONE mtu 1400", []string{
			"gif ifconfig gif0 inet 192.0.2.1 netmask 255.255.255.0 mtu 1400",
		}},
		{"gif0", "inet 192.0.2.1 255.255.255.255\ndest 192.0.2.2", []string{
			"gif ifconfig gif0 inet 192.0.2.1 192.0.2.2 netmask 255.255.255.255",
		}},
		{"gif0", "inet alias 192.0.2.1 255.255.255.255\n# the far end\n\ndest 192.0.2.2\nup", []string{
			"gif ifconfig gif0 inet alias 192.0.2.1 192.0.2.2 netmask 255.255.255.255",
			"gif ifconfig gif0 up",
		}},
		{"gif0", "inet 192.0.2.1/30\ndest 192.0.2.2", []string{"gif ifconfig gif0 inet 192.0.2.1/30 192.0.2.2"}},
		{"gif0", "inet6 2001:db8::1 64", []string{"gif ifconfig gif0 inet6 2001:db8::1 prefixlen 64"}},
		{"gif0", "inet6 alias 2001:db8::1 128\ndest 2001:db8::2", []string{
			"gif ifconfig gif0 inet6 alias 2001:db8::1 2001:db8::2 prefixlen 128",
		}},
		{"gif0", "inet6 2001:db8::1\ndest 2001:db8::2", []string{"gif ifconfig gif0 inet6 2001:db8::1 2001:db8::2"}},
		{"gif0", "# a comment\n\n   \n\tup # and a trailing one\n#", []string{"gif ifconfig gif0 up"}},
		{"gif0", "up\r\ndown\r\n", []string{"gif ifconfig gif0 up", "gif ifconfig gif0 down"}},
		{"gif0", `description "to the branch office"`, []string{"gif ifconfig gif0 description 'to the branch office'"}},
		{"gif0", `description ""`, []string{"gif ifconfig gif0 description ''"}},
		{"gif0", `description it's\ here#not`, []string{`gif ifconfig gif0 description 'it'\''s here'`}},
		{"gif0", "mtu 1500\ntunnelttl 30\n-tunneldf\n-tunnelecn\ntunneldomain 7\n-fastpath", []string{
			"gif ifconfig gif0 mtu 1500", "gif ifconfig gif0 tunnelttl 30", "gif ifconfig gif0 -tunneldf",
			"gif ifconfig gif0 -tunnelecn", "gif ifconfig gif0 tunneldomain 7", "gif ifconfig gif0 -fastpath",
		}},
		{"gif0", "!ipsecctl -f /etc/ipsec.conf", []string{"/bin/sh -c 'ipsecctl -f /etc/ipsec.conf'"}},
		{"gif0", `  ! route add 10.1.0.0/16 -interface $if  `, []string{"/bin/sh -c 'route add 10.1.0.0/16 -interface gif0'"}},
		{"gif0", `!ifconfig \$if 10.0.0.1 10.0.0.2 # both forms`, []string{"/bin/sh -c 'ifconfig gif0 10.0.0.1 10.0.0.2 # both forms'"}},
		{"gif0", `!echo 'it''s'`, []string{`/bin/sh -c 'echo '\''it'\'''\''s'\'''`}},
		{"bridge0", "add gif0 add fxp1\nup link2\n", []string{
			"gif ifconfig bridge0 add gif0 add fxp1",
			"gif ifconfig bridge0 up link2",
		}},
		{"bridge0", "add gif0\n!ipsecctl -F\nup", []string{
			"gif ifconfig bridge0 add gif0", "/bin/sh -c 'ipsecctl -F'", "gif ifconfig bridge0 up",
		}},
		{"fxp1", "up\nmtu 1500", []string{"gif ifconfig fxp1 up", "gif ifconfig fxp1 mtu 1500"}},
		{"gif0", "", nil},
	}
	for _, tc := range tests {
		f, err := ParseFile("hostname."+tc.ifname, tc.ifname, []byte(tc.file))
		if err != nil {
			t.Errorf("ParseFile(%s, %q): %v", tc.ifname, tc.file, err)
			continue
		}
		if got := f.Commands(); !slices.Equal(got, tc.want) {
			t.Errorf("ParseFile(%s, %q).Commands() =\n%q\nwant\n%q", tc.ifname, tc.file, got, tc.want)
		}
		if len(f.Warnings) != 0 {
			t.Errorf("ParseFile(%s, %q): warnings %q", tc.ifname, tc.file, f.Warnings)
		}
		for _, s := range f.Steps {
			if s.Shell != "" {
				continue
			}
			ops, err := ifconfig.Parse(tc.ifname, s.Args)
			if err != nil || !slices.Equal(ops, s.Ops) {
				t.Errorf("ParseFile(%s, %q): step %+v: ops are not its args parsed (%v)", tc.ifname, tc.file, s, err)
			}
		}
	}
}

func TestParseFileSteps(t *testing.T) {
	data := "# gif0\ntunnel 192.0.2.1 198.51.100.1\n\ninet 10.0.0.1 255.255.255.255\ndest 10.0.0.2\n!echo $if\nup\n"
	f, err := ParseFile("/etc/gif/hostname.gif0", "gif0", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "/etc/gif/hostname.gif0" || f.Interface != "gif0" {
		t.Errorf("Name, Interface = %q, %q", f.Name, f.Interface)
	}
	var lines []int
	for _, s := range f.Steps {
		lines = append(lines, s.Line)
	}
	if want := []int{2, 4, 6, 7}; !slices.Equal(lines, want) {
		t.Errorf("step lines %v, want %v", lines, want)
	}
	if s := f.Steps[2]; s.Shell != "echo gif0" || s.Args != nil || s.Ops != nil {
		t.Errorf("shell step %+v", s)
	}
	want := tunnel.Addr{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")}
	if ops := f.Steps[1].Ops; len(ops) != 1 || ops[0].Kind != tunnel.OpAddAddr || ops[0].Addr != want {
		t.Errorf("inet + dest: ops %+v, want one adding %v", ops, want)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		ifname, file string
		line         int
		want         string // the message after "hostname.IF:LINE: "
		argError     bool   // wraps an *ifconfig.ArgError
	}{
		{"gif0", "up\nmtux 1500", 2, `"mtux": unknown parameter (did you mean "mtu"?)`, true},
		{"gif0", "tunnel 1.2.3.4 4.3.2.256", 1, `"tunnel 1.2.3.4 4.3.2.256": destination "4.3.2.256" is not a numeric IP address`, true},
		{"gif0", "inet 10.0.0.300 255.255.255.0", 1, `"inet 10.0.0.300": "10.0.0.300" is not an IPv4 address`, true},
		{"gif0", "inet 10.0.0.1 255.255.0.255", 1, `inet 10.0.0.1 255.255.0.255: the second address is a netmask here`, false},
		{"gif0", "inet 10.0.0.1 33", 1, `"inet 10.0.0.1 prefixlen 33": prefix length "33" is not a number 1..32`, true},
		{"gif0", "inet 10.0.0.1 NONE", 1, `"inet 10.0.0.1 netmask NONE": netmask "NONE" is not a mask`, true},
		{"gif0", "inet6 2001:db8::1 64 2001:db8::2", 1, `"inet6 2001:db8::1 prefixlen 64 2001:db8::2": prefix length must be 128`, true},
		{"gif0", "up\n" + `description "abc`, 2, "double quote at column 13 is not closed on its line", false},
		{"gif0", `description "a" "b`, 1, "double quote at column 17 is not closed on its line", false},
		{"gif0", `description abc\`, 1, "line ends in a backslash", false},
		{"gif0", "dest 10.0.0.2", 1, "dest must follow an inet or inet6 line", false},
		{"gif0", "up\n\ndest 10.0.0.2", 3, "dest must follow an inet or inet6 line", false},
		{"gif0", "inet 10.0.0.1\n!true\ndest 10.0.0.2", 3, "dest must follow an inet or inet6 line", false},
		{"gif0", "inet 10.0.0.1\ndest", 2, `"dest": want dest ADDR, one address`, false},
		{"gif0", "inet 10.0.0.1\ndest 10.0.0.2 10.0.0.3", 2, `"dest 10.0.0.2 10.0.0.3": want dest ADDR, one address`, false},
		{"gif0", "inet 10.0.0.1\ndest 10.0.0.2\ndest 10.0.0.3", 3, `a second dest for the same address`, false},
		{"gif0", "inet 10.0.0.1 255.255.255.255 10.0.0.2\ndest 10.0.0.3", 2, `"inet 10.0.0.1 10.0.0.3 netmask 255.255.255.255 broadcast 10.0.0.2": second destination address 10.0.0.2`, true},
		{"gif0", "inet 10.0.0.1\ndest 2001:db8::2", 2, `destination 2001:db8::2 is IPv6; inet takes an IPv4 address`, true},
		{"gif0", "inet6 2001:db8::1 64\ndest 2001:db8::2", 2, "prefix length must be 128 with a destination address, not 64", true},
		{"gif0", "up\ninet 10.0.0.1 10.0.0.2", 2, `inet 10.0.0.1 10.0.0.2: the second address is a netmask here (hostname.if(5)); ` +
			`for a point-to-point destination write "dest 10.0.0.2" on the next line`, false},
		{"gif0", "inet alias 10.0.0.1 10.0.0.2", 1, `inet alias 10.0.0.1 10.0.0.2: the second address is a netmask here`, false},
		{"gif0", "inet 10.0.0.1/32 10.0.0.2", 1, `write "dest 10.0.0.2" on the next line`, false},
		{"gif0", "inet6 2001:db8::1 2001:db8::2", 1, `inet6 2001:db8::1 2001:db8::2: the second word is a prefix length here (hostname.if(5)); ` +
			`for a point-to-point destination write "inet6 2001:db8::1 128" and "dest 2001:db8::2" on the next line`, false},
		{"gif0", "dhcp", 1, "dhcp: gif configures no address dynamically", false},
		{"gif0", "rtsol", 1, "rtsol: gif configures no address dynamically", false},
		{"gif0", "inet autoconf", 1, "inet autoconf: gif configures no address dynamically", false},
		{"fxp1", "inet6 autoconf", 1, "inet6 autoconf: gif configures no address dynamically", false},
		{"gif0", "!", 1, "! without a command", false},
		{"gif0", "up\n  !  \t", 2, "! without a command", false},
		{"gif0", "!echo \x00", 1, "command contains a NUL byte", false},
		{"gif0", "add fxp1", 1, `"add": a bridge parameter; use "ifconfig bridgeN add gif0"`, true},
		{"bridge0", "add gif0\ninet 10.0.0.1 255.255.255.0", 2, `"inet": gif sets no address on a bridge`, true},
		{"bridge0", "add gif0 learn gif0", 1, `"learn": an OpenBSD parameter not supported by gif's bridges`, true},
		{"fxp1", "up\ninet 10.0.0.1 10.0.0.2", 2, `"inet": gif sets only up, down and mtu on fxp1`, true},
		{"fxp1", "tunnel 192.0.2.1 192.0.2.2", 1, `"tunnel": gif sets only up, down and mtu on fxp1`, true},
		// Only the first error is reported.
		{"gif0", "up\nbogus\nmtux 1", 2, `"bogus": unknown parameter`, true},
	}
	for _, tc := range tests {
		name := "hostname." + tc.ifname
		f, err := ParseFile(name, tc.ifname, []byte(tc.file))
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("ParseFile(%s, %q) = %+v, %v; want an *Error", tc.ifname, tc.file, f, err)
			continue
		}
		if f != nil {
			t.Errorf("ParseFile(%s, %q): a file as well as error %v", tc.ifname, tc.file, err)
		}
		if fe.File != name || fe.Line != tc.line {
			t.Errorf("ParseFile(%s, %q): error at %s:%d, want %s:%d", tc.ifname, tc.file, fe.File, fe.Line, name, tc.line)
		}
		prefix := name + ":" + strconv.Itoa(tc.line) + ": "
		if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) {
			t.Errorf("ParseFile(%s, %q):\n got %s\nwant %s...%s...", tc.ifname, tc.file, msg, prefix, tc.want)
		}
		var ae *ifconfig.ArgError
		if errors.As(err, &ae) != tc.argError {
			t.Errorf("ParseFile(%s, %q): error %v wraps an *ifconfig.ArgError: %v, want %v", tc.ifname, tc.file, err, !tc.argError, tc.argError)
		}
	}
}

func TestParseFileName(t *testing.T) {
	for _, ifname := range []string{"gif01", "bridge10000", "a/b", ""} {
		_, err := ParseFile("hostname."+ifname, ifname, []byte("up\n"))
		var fe *Error
		var ne *ifconfig.NameError
		if !errors.As(err, &fe) || fe.Line != 0 || !errors.As(err, &ne) {
			t.Errorf("ParseFile(%q) error %v: want an *Error at line 0 wrapping an *ifconfig.NameError", ifname, err)
			continue
		}
		if want := "hostname." + ifname + ": interface name"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseFile(%q) error %q, want it to start with %q", ifname, err, want)
		}
	}
}

// TestNoPitfallWarning: a netmask, in any form, is a netmask, and so is
// the second word of an inet line on an interface that is not a gif.
func TestNoPitfallWarning(t *testing.T) {
	for _, line := range []string{
		"inet 10.0.0.1 255.255.255.0",
		"inet 10.0.0.1 0xffffff00",
		"inet 10.0.0.1 255.255.255.255",
		"inet alias 10.0.0.1 255.255.255.252 10.0.0.2",
		"inet 10.0.0.1 255.255.255.255\ndest 10.0.0.2",
	} {
		f, err := ParseFile("hostname.gif0", "gif0", []byte(line))
		if err != nil || len(f.Warnings) != 0 {
			t.Errorf("ParseFile(%q) = %v, %v; want no error or warning", line, f, err)
		}
	}
}

// TestSeedExample parses the seed's configuration kept as files (reference
// §3.3) and applies them in Order: the bridge joins the tunnel and the LAN.
func TestSeedExample(t *testing.T) {
	files := map[string]string{
		"gif0":    "tunnel 1.2.3.4 4.3.2.1\nup\n",
		"bridge0": "add gif0 add fxp1\nup link2\n",
		"fxp1":    "up\n",
	}
	var s tunnel.State
	var cmds []string
	for _, ifname := range Order([]string{"bridge0", "gif0", "fxp1"}) {
		f, err := ParseFile("hostname."+ifname, ifname, []byte(files[ifname]))
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, f.Commands()...)
		if !tunnel.IsGif(ifname) && !tunnel.IsBridge(ifname) {
			continue // the host's own interface: the link layer sets it up
		}
		for _, step := range f.Steps {
			if s, _, err = s.Apply(ifname, step.Ops, fakeEnv{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		"gif ifconfig fxp1 up",
		"gif ifconfig gif0 tunnel 1.2.3.4 4.3.2.1",
		"gif ifconfig gif0 up",
		"gif ifconfig bridge0 add gif0 add fxp1",
		"gif ifconfig bridge0 up link2",
	}
	if !slices.Equal(cmds, want) {
		t.Errorf("commands\n%q\nwant\n%q", cmds, want)
	}
	gif, ok := s.Find("gif0")
	if !ok || !gif.Up || gif.Src != netip.MustParseAddr("1.2.3.4") || gif.Dst != netip.MustParseAddr("4.3.2.1") {
		t.Errorf("gif0 = %+v", gif)
	}
	br, ok := s.FindBridge("bridge0")
	if !ok || !br.Up || !slices.Equal(br.Members, []string{"gif0", "fxp1"}) || br.Link != [3]bool{false, false, true} {
		t.Errorf("bridge0 = %+v", br)
	}
}

// fakeEnv is a host on which every address is local and every interface
// gif does not manage is Ethernet.
type fakeEnv struct{}

func (fakeEnv) IsLocal(netip.Addr) bool                 { return true }
func (fakeEnv) Ethernet(string) (exists, ethernet bool) { return true, true }
func (fakeEnv) NewLLAddr() tunnel.LLAddr                { return fixedLLAddr }

// fixedLLAddr is the address the fake hosts give every gif that needs one,
// so that a state is the same however often it is computed.
var fixedLLAddr = tunnel.LLAddr{0x02, 0, 0x5e, 0, 0x53, 0x01}

// TestTransaction: a file's ifconfig steps become commands at their lines,
// after the interface's creation at the first one's line, and its shell
// steps are left out.
func TestTransaction(t *testing.T) {
	f, err := ParseFile("hostname.gif0", "gif0", []byte("# gif0\n\ntunnel 1.2.3.4 4.3.2.1\n!echo $if\nmtu 1400 up\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.Transaction(f.Steps, true).Commands {
		words := []string{strconv.Itoa(c.Line), c.Name}
		for _, op := range c.Ops {
			words = append(words, op.Token)
		}
		got = append(got, strings.Join(words, " "))
	}
	want := []string{"3 gif0 create", "3 gif0 tunnel 1.2.3.4 4.3.2.1", "5 gif0 mtu 1400 up"}
	if !slices.Equal(got, want) {
		t.Errorf("transaction %q, want %q", got, want)
	}
	if tx := f.Transaction(nil, true); len(tx.Commands) != 1 || tx.Commands[0].Line != 1 || tx.File != "hostname.gif0" {
		t.Errorf("an empty part's transaction: %+v", tx)
	}
	if tx := f.Transaction(f.Steps[1:2], false); len(tx.Commands) != 0 {
		t.Errorf("a shell step's transaction: %+v", tx)
	}
}

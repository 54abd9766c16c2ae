package cli

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"gif/internal/conf/ipsecconf"
	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/ike"
	"gif/internal/ipsec/policy"
)

// ipsecctlMain is `gif ipsecctl`, OpenBSD's ipsecctl(8) for gif's userspace
// ESP: -f loads a file (replacing what was loaded, all or nothing), -n only
// parses it, -d deletes its rules instead, -v shows what is loaded, -s
// shows, -F flushes.
func ipsecctlMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gif ipsecctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "load the rules of `FILE`")
	parseOnly := fs.Bool("n", false, "parse the file only")
	verbose := fs.Bool("v", false, "show the rules as they are loaded")
	show := fs.String("s", "", "show `all`, `sa`, `flow` or `ike`")
	flush := fs.Bool("F", false, "flush every rule")
	del := fs.Bool("d", false, "delete the rules of the file given with -f")
	if err := fs.Parse(clusterFlags(args, "fs")); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		return fail(stderr, "ipsecctl", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	switch *show {
	case "", "all", "sa", "flow", "ike":
	default:
		return fail(stderr, "ipsecctl", fmt.Errorf("-s %s: want all, sa, flow or ike", *show))
	}
	if *file == "" && *show == "" && !*flush {
		return fail(stderr, "ipsecctl", fmt.Errorf("nothing to do: give -f FILE, -s all|sa|flow|ike or -F"))
	}
	var cfg policy.Config
	if *file != "" {
		parsed, err := readIPsecConf(*file)
		if err != nil {
			return fail(stderr, "ipsecctl", err)
		}
		cfg = *parsed
		if *parseOnly {
			// Refuse what a load refuses (ah, for one), with its file:line.
			if _, err := dataplane.CompilePolicy(cfg, nil, nil); err != nil {
				return fail(stderr, "ipsecctl", err)
			}
			if *verbose {
				printIPsec(stdout, "all", statusOf(cfg))
				printIKE(stdout, cfg.IKE)
			}
			return 0
		}
	}
	if *del && *file == "" {
		return fail(stderr, "ipsecctl", fmt.Errorf("-d deletes the rules of a file: give -f FILE"))
	}
	if *file != "" || *flush {
		method := control.MethodIPsecLoad
		if *del {
			method = control.MethodIPsecDel
		}
		var st control.IPsecStatus
		if err := call(stderr, method, cfg, &st); err != nil {
			return fail(stderr, "ipsecctl", err)
		}
		if *verbose {
			printIPsec(stdout, "all", st)
		}
	}
	if *show != "" {
		var st control.IPsecStatus
		if err := call(stderr, control.MethodIPsecShow, nil, &st); err != nil {
			return fail(stderr, "ipsecctl", err)
		}
		printIPsec(stdout, *show, st)
	}
	return 0
}

// readIPsecConf parses path as ipsecctl does, refusing a file that others
// may read: it holds keys, or names them.
func readIPsecConf(path string) (*policy.Config, error) {
	data, mode, err := ipsecconf.OSFiles{}.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := ipsecconf.CheckSecret(path, mode); err != nil {
		return nil, err
	}
	return ipsecconf.Parse(path, data, ipsecconf.OSFiles{})
}

// statusOf shows a parsed configuration as ipsecctl -nv does, without keys.
func statusOf(cfg policy.Config) control.IPsecStatus {
	st := control.IPsecStatus{Flows: cfg.Flows}
	for _, sa := range cfg.SAs {
		st.SAs = append(st.SAs, control.SAStatus{SPI: sa.SPI, Src: sa.Src, Dst: sa.Dst, Mode: sa.Mode.String(), Auth: sa.Auth, Enc: sa.Enc})
	}
	return st
}

// printIPsec prints flows and SAs in ipsecctl -s's layout.
func printIPsec(w io.Writer, what string, st control.IPsecStatus) {
	if what == "all" || what == "flow" {
		if what == "all" {
			fmt.Fprintln(w, "FLOWS:")
		}
		if len(st.Flows) == 0 {
			fmt.Fprintln(w, "No flows")
		}
		for _, f := range st.Flows {
			var b strings.Builder
			fmt.Fprintf(&b, "flow %s %s", f.Proto, f.Dir)
			if f.IPProto != 0 {
				fmt.Fprintf(&b, " proto %s", protoName(f.IPProto))
			}
			fmt.Fprintf(&b, " from %s to %s", f.Src, f.Dst)
			if f.Peer.IsValid() {
				fmt.Fprintf(&b, " peer %s", f.Peer)
			}
			fmt.Fprintf(&b, " type %s", f.Type)
			fmt.Fprintln(w, b.String())
		}
	}
	if what == "all" {
		fmt.Fprintln(w, "\nSAD:")
	}
	if what == "all" || what == "sa" {
		if len(st.SAs) == 0 {
			fmt.Fprintln(w, "No entries")
		}
		for _, sa := range st.SAs {
			auth := ""
			if sa.Auth != "" {
				auth = " auth " + sa.Auth
			}
			expires := ""
			if sa.Expires > 0 {
				expires = fmt.Sprintf(" expires in %ds", sa.Expires)
			}
			fmt.Fprintf(w, "esp %s from %s to %s spi 0x%08x%s enc %s packets %d bytes %d%s\n",
				sa.Mode, sa.Src, sa.Dst, sa.SPI, auth, sa.Enc, sa.Packets, sa.Bytes, expires)
		}
	}
	if (what == "all" || what == "ike") && st.IKE.Counters != nil { // a daemon's, not a parsed file's
		printIKEStatus(w, what == "all", st.IKE)
	}
}

// printIKEStatus shows the key exchanges of ike rules: phase-1 SAs and
// Main Modes, Quick Modes on the way, the negotiated SA pairs, and the
// counters.
func printIKEStatus(w io.Writer, heading bool, st ike.Status) {
	if heading {
		fmt.Fprintln(w, "\nIKE:")
	}
	if len(st.ISAKMP)+len(st.Quick)+len(st.Children) == 0 {
		fmt.Fprintln(w, "No exchanges")
	}
	role := map[bool]string{true: "initiator", false: "responder"}
	for _, s := range st.ISAKMP {
		expires := ""
		if s.Expires > 0 {
			expires = fmt.Sprintf(", expires in %ds", s.Expires)
		}
		fmt.Fprintf(w, "isakmp %s <-> %s %s %s%s cookies %s\n", s.Local, s.Peer, role[s.Initiator], s.State, expires, s.Cookies)
	}
	for _, q := range st.Quick {
		fmt.Fprintf(w, "quick with %s %s message %08x: %s\n", q.Peer, role[q.Initiator], q.MessageID, q.State)
	}
	for _, c := range st.Children {
		proto := ""
		if c.IPProto != 0 {
			proto = " proto " + protoName(c.IPProto)
		}
		renew := "renewing"
		if c.Renew > 0 {
			renew = fmt.Sprintf("renew in %ds", c.Renew)
		}
		fmt.Fprintf(w, "esp from %s to %s%s peer %s spi in 0x%08x out 0x%08x enc %s auth %s, expires in %ds, %s\n",
			c.Src, c.Dst, proto, c.Peer, c.SPIIn, c.SPIOut, c.Enc, c.Auth, c.Expires, renew)
	}
	names := slices.Sorted(maps.Keys(st.Counters))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, st.Counters[n])
	}
	fmt.Fprintf(w, "messages: %s\n", strings.Join(parts, ", "))
}

// protoName names the protocols gif carries, as ipsecctl -s does.
func protoName(p uint8) string {
	switch p {
	case 4:
		return "ipencap"
	case 41:
		return "ipv6"
	case 97:
		return "etherip"
	}
	return fmt.Sprint(p)
}

// printIKE prints ike rules as ipsec.conf rules with every default
// written out, the pre-shared key hidden.
func printIKE(w io.Writer, rules []policy.IKE) {
	if len(rules) == 0 {
		return
	}
	fmt.Fprintln(w, "\nIKE:")
	for _, r := range rules {
		var b strings.Builder
		fmt.Fprintf(&b, "ike %s %s %s", r.Start, r.Proto, r.Mode)
		if r.IPProto != 0 {
			fmt.Fprintf(&b, " proto %s", protoName(r.IPProto))
		}
		fmt.Fprintf(&b, " from %s to %s", r.Src, r.Dst)
		if r.Local.IsValid() {
			fmt.Fprintf(&b, " local %s", r.Local)
		}
		if r.Peer.IsValid() {
			fmt.Fprintf(&b, " peer %s", r.Peer)
		} else {
			b.WriteString(" peer any")
		}
		for _, ph := range []struct {
			name string
			p    policy.IKEPhase
		}{{"main", r.Main}, {"quick", r.Quick}} {
			b.WriteString(" " + ph.name)
			if ph.p.Auth != "" {
				b.WriteString(" auth " + ph.p.Auth)
			}
			if ph.p.Enc != "" {
				b.WriteString(" enc " + ph.p.Enc)
			}
			fmt.Fprintf(&b, " group %s lifetime %d", ph.p.Group, int(ph.p.Lifetime.Seconds()))
		}
		if r.SrcID != "" {
			b.WriteString(" srcid " + r.SrcID)
		}
		if r.DstID != "" {
			b.WriteString(" dstid " + r.DstID)
		}
		if r.PSK != "" {
			b.WriteString(" psk (hidden)")
		} else {
			b.WriteString(" rsa")
		}
		fmt.Fprintln(w, b.String())
	}
}

// Package cli holds gif's subcommands: the OpenBSD tools (ifconfig, sysctl,
// netstat) that talk to the daemon, the daemon itself and the demo.
package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gif/internal/conf/ifconfig"
)

const usage = `usage: gif command [arguments]

Commands, as on OpenBSD:
  ifconfig [-a] [-j] [interface [parameters]]   configure and show gif interfaces and bridges
  ifconfig -C                                    print the running configuration as hostname.if files
  netstart [-n] [-d dir] [interface ...]         apply dir/sysctl.conf, dir/hostname.* and dir/ipsec.conf (dir: /etc/gif)
  sysctl [-a] [name[=value] ...]                 net.inet.ipip.allow, net.inet.etherip.allow, net.inet.gif.fastpath
  netstat -s [-p ipip|etherip|esp] | -i          tunnel counters
  ipsecctl [-dnv] -f file | -s all|sa|flow|ike | -F   load, delete, show or flush ipsec.conf rules (userspace ESP)
  daemon [-d] [-m address:port]                  run this namespace's daemon in the foreground (-m: Prometheus metrics)
  demo                                           gif(4)'s EtherIP bridge example and the IP modes, in namespaces
  help [command]                                 this text, or a command's
  version                                        gif's version and revision

The daemon of the current network namespace starts by itself when a command needs it.
"gif help COMMAND" or "gif COMMAND -h" tells more of each.
`

// command is one subcommand: its arguments, its output streams and its exit
// status; usage is what gif help COMMAND and gif COMMAND -h print.
type command struct {
	run   func(args []string, stdout, stderr io.Writer) int
	usage string
}

var commands = map[string]command{
	"ifconfig": {ifconfigMain, `usage: gif ifconfig [-a] [-j] [interface]
       gif ifconfig interface parameters
       gif ifconfig -C

Shows gif interfaces and bridges (all of them, or one), or configures one,
as OpenBSD's ifconfig(8): the parameters are applied whole or not at all.

  -a    show every interface (the default)
  -j    show as JSON
  -C    print the running configuration as the hostname.if files that
        gif netstart reads

` + ifconfig.Grammar},
	"netstart": {netstartMain, `usage: gif netstart [-n] [-d dir] [interface ...]

Applies dir/sysctl.conf, then dir/hostname.IF for every interface (or those
named) in OpenBSD's netstart(8) order, then dir/ipsec.conf. A file with an
error is reported with its line and not applied; the others still are.
Running it again changes nothing.

  -d dir   read the files in dir (default /etc/gif)
  -n       print the commands instead of running them
`},
	"sysctl": {sysctlMain, `usage: gif sysctl [-a] [name[=value] ...]

Shows or sets gif's variables, as OpenBSD's sysctl(8):

  net.inet.ipip.allow      0 (default), 1, or 2: accept IP-in-IP that no gif claims (2: without the spoof check)
  net.inet.etherip.allow   0 (default) or 1: accept EtherIP on gifs in a bridge
  net.inet.gif.fastpath    1 (default) or 0: may tunnels take the kernel data plane

  -a    show them all (the default)
`},
	"netstat": {netstatMain, `usage: gif netstat -s [-p ipip|etherip|esp]
       gif netstat -i

  -s          protocol counters, as OpenBSD's netstat -s
  -p proto    only those of ipip (also ipencap), etherip or esp
  -i          the interface table: packets and errors in and out
`},
	"ipsecctl": {ipsecctlMain, `usage: gif ipsecctl [-dnv] -f file
       gif ipsecctl -s all|sa|flow|ike
       gif ipsecctl -F

Loads, deletes, shows or flushes ipsec.conf(5) rules for gif's userspace
ESP, as OpenBSD's ipsecctl(8). Loading replaces what was loaded, all or
nothing.

  -f file   load the rules of file
  -d        delete the rules of file instead
  -n        parse file only
  -v        show the rules as they are loaded
  -s what   show all, sa (the SAs), flow (the flows) or ike (the IKE peers)
  -F        flush every rule
`},
	"daemon": {daemonMain, `usage: gif daemon [-d] [-m address:port]

Runs the current network namespace's daemon in the foreground, as systemd
runs it; it owns the interfaces and the data planes. Other commands start
it by themselves when it is not running.

  -d                 log every dropped packet and failed send (debug)
  -m address:port    serve Prometheus metrics at http://address:port/metrics
                     (e.g. 127.0.0.1:9661; [::] or an empty address: every
                     address); off by default. A bad address or a port in
                     use stops the daemon before it changes anything.
                     gif.service passes GIF_DAEMON_FLAGS from
                     /etc/gif/daemon.conf, e.g. GIF_DAEMON_FLAGS="-m 127.0.0.1:9661"
`},
	"demo": {demoMain, `usage: gif demo

Builds gif(4)'s example in network namespaces (two Ethernet networks made
one LAN by two bridges joined by EtherIP), configured with the manual's own
commands and checked with traffic; then a tunnel of each of the four IP
modes, with a ping through each. Removes everything it made.
`},
	"version": {versionMain, `usage: gif version

Prints gif's module version, the VCS revision it was built from and the Go
release that built it.
`},
}

// helpFlags ask a command for its usage.
var helpFlags = []string{"-h", "-help", "--help"}

// Main runs the subcommand named by args[0] and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, args := args[0], args[1:]
	if name == "help" || slices.Contains(helpFlags, name) {
		return helpMain(args, stdout, stderr)
	}
	if name == completeCommand {
		return completeMain(args, stdout, stderr)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "gif: unknown command %q\n%s", name, usage)
		return 2
	}
	if i := slices.IndexFunc(args, func(a string) bool { return slices.Contains(helpFlags, a) }); i >= 0 {
		if len(args) > 1 {
			fmt.Fprintf(stderr, "gif %s: %s asks for the usage and takes nothing else (got %q)\n%s",
				name, args[i], strings.Join(args, " "), cmd.usage)
			return 2
		}
		fmt.Fprint(stdout, cmd.usage)
		return 0
	}
	return cmd.run(args, stdout, stderr)
}

// helpMain is `gif help [command]`.
func helpMain(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "gif help: give one command, not %d\n", len(args))
		return 2
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gif help: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fmt.Fprint(stdout, cmd.usage)
	return 0
}

// fail prints err as "gif TOOL: err" and returns the exit status 1.
func fail(stderr io.Writer, tool string, err error) int {
	fmt.Fprintf(stderr, "gif %s: %v\n", tool, err)
	return 1
}

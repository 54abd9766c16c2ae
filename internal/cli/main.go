// Package cli holds gif's subcommands: the OpenBSD tools (ifconfig, sysctl,
// netstat) that talk to the daemon, the daemon itself and the demo.
package cli

import (
	"fmt"
	"io"
)

const usage = `usage: gif command [arguments]

Commands, as on OpenBSD:
  ifconfig [-a] [-j] [interface [parameters]]   configure and show gif interfaces and bridges
  ifconfig -C                                    print the running configuration as hostname.if files
  netstart [-d dir] [-n] [interface ...]         apply dir/sysctl.conf and dir/hostname.* (dir: /etc/gif)
  sysctl [-a] [name[=value] ...]                 net.inet.ipip.allow, net.inet.etherip.allow, net.inet.gif.fastpath
  netstat -s [-p ipip|etherip] | -i              tunnel counters
  ipsecctl [-dnv] -f file | -s all|sa|flow | -F load, delete, show or flush ipsec.conf rules (userspace ESP)
  daemon                                         run this namespace's daemon in the foreground
  demo                                           gif(4)'s EtherIP bridge example and the IP modes, in namespaces
  help                                           this text

The daemon of the current network namespace starts by itself when a command needs it.
`

// command is one subcommand: its arguments, its output streams and its exit status.
type command func(args []string, stdout, stderr io.Writer) int

var commands = map[string]command{
	"ifconfig": ifconfigMain,
	"sysctl":   sysctlMain,
	"netstat":  netstatMain,
	"netstart": netstartMain,
	"ipsecctl": ipsecctlMain,
	"daemon":   daemonMain,
	"demo":     demoMain,
}

// Main runs the subcommand named by args[0] and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gif: unknown command %q\n%s", args[0], usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

// fail prints err as "gif TOOL: err" and returns the exit status 1.
func fail(stderr io.Writer, tool string, err error) int {
	fmt.Fprintf(stderr, "gif %s: %v\n", tool, err)
	return 1
}

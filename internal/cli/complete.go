package cli

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

// completeCommand is the hidden command that dist/gif.bash asks for the
// words that may come next, so that the completion follows the code: the
// commands, ifconfig's grammar and gif's sysctl variables.
const completeCommand = "complete"

// completeMain is `gif complete [word ...]`: the words are those typed after
// "gif" before the one being completed. It prints the candidates, one a
// line, and nothing where a file name may come (bash then completes one).
// It asks no daemon, so that completing never starts one.
func completeMain(words []string, stdout, _ io.Writer) int {
	var candidates []string
	switch {
	case len(words) == 0, len(words) == 1 && words[0] == "help":
		candidates = commandNames()
	case words[0] == "ifconfig":
		if ifname := firstOperand(words[1:]); ifname != "" {
			candidates = ifconfig.Words(ifname)
		} else {
			candidates = append(interfaceNames(), "-a", "-j", "-C")
		}
	case words[0] == "netstart":
		candidates = append(interfaceNames(), "-n", "-d")
	case words[0] == "sysctl":
		candidates = append(tunnel.SysctlNames(), "-a")
	case words[0] == "netstat" && words[len(words)-1] == "-p":
		candidates = []string{"ipip", "etherip", "esp"}
	case words[0] == "netstat":
		candidates = []string{"-s", "-i", "-p"}
	}
	for _, c := range candidates {
		fmt.Fprintln(stdout, c)
	}
	return 0
}

// commandNames lists gif's commands, help among them, sorted.
func commandNames() []string {
	names := []string{"help"}
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// firstOperand returns the first of args that is no flag, or "".
func firstOperand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// interfaceNames lists the gifs and bridges of this network namespace, as
// the kernel has them.
func interfaceNames() []string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var names []string
	for _, iface := range ifaces {
		if tunnel.IsGif(iface.Name) || tunnel.IsBridge(iface.Name) {
			names = append(names, iface.Name)
		}
	}
	return names
}

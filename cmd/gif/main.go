// Command gif is OpenBSD's generic tunnel interface, gif(4), for Linux: the
// OpenBSD tools that configure it are its subcommands.
package main

import (
	"os"

	"gif/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}

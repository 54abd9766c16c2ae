package cli

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// manualPage is gif(8), seen from this package's directory.
const manualPage = "../../man/gif.8"

// TestManualAgreesWithUsage: gif.8's SYNOPSIS gives each command the flags
// its usage names, and no others, and gif.8 has a section for each command,
// so that the manual and gif help cannot drift apart.
func TestManualAgreesWithUsage(t *testing.T) {
	page, err := os.ReadFile(manualPage)
	if err != nil {
		t.Fatal(err)
	}
	synopsis, sections := manualCommands(string(page))
	usages := map[string]string{"help": usage}
	for name, cmd := range commands {
		usages[name] = cmd.usage
	}
	for _, name := range slices.Sorted(maps.Keys(usages)) {
		manualFlags, ok := synopsis[name]
		if !ok {
			t.Errorf("gif.8: the SYNOPSIS has no line for gif %s", name)
		}
		if !slices.Contains(sections, name) {
			t.Errorf("gif.8: no section .Ss gif %s", name)
		}
		var usageFlags []string
		if name != "help" { // gif help's usage is the list of every command's
			usageFlags = singleLetterFlags(usages[name])
		}
		for _, f := range usageFlags {
			if !slices.Contains(manualFlags, f) {
				t.Errorf("gif.8: the SYNOPSIS of gif %s lacks .Fl %s, which its usage names", name, f[1:])
			}
		}
		for _, f := range manualFlags {
			if !slices.Contains(usageFlags, f) {
				t.Errorf("gif.8: the SYNOPSIS gives gif %s .Fl %s, which its usage does not name", name, f[1:])
			}
		}
	}
	for name := range synopsis {
		if _, ok := usages[name]; !ok {
			t.Errorf("gif.8: the SYNOPSIS has gif %s, which is no command", name)
		}
	}
	for _, name := range sections {
		if _, ok := usages[name]; !ok {
			t.Errorf("gif.8: section gif %s is of no command", name)
		}
	}
}

// singleLetterFlags returns the flags of a usage: its words that are a dash
// and one letter. The parameters of ifconfig's grammar, such as -tunnel,
// are longer.
func singleLetterFlags(usage string) []string {
	var flags []string
	for _, w := range usageWords(usage) {
		if len(w) == 2 && w[0] == '-' && isLetter(w[1]) && !slices.Contains(flags, w) {
			flags = append(flags, w)
		}
	}
	return flags
}

// flagCluster returns the flags of the argument of .Fl: -d, -n and -v for
// dnv, as getopt reads them; anything but letters is one flag as it is.
func flagCluster(arg string) []string {
	var flags []string
	for _, c := range []byte(arg) {
		if !isLetter(c) {
			return []string{"-" + arg}
		}
		flags = append(flags, "-"+string(c))
	}
	return flags
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// manualCommands reads an mdoc page: the flags that each command's lines of
// the SYNOPSIS give (a line starts with .Nm gif, and the command is its
// first .Cm; .Fl dnv is -d, -n and -v), and the commands that have a
// section, .Ss gif NAME.
func manualCommands(page string) (synopsis map[string][]string, sections []string) {
	synopsis = map[string][]string{}
	inSynopsis, command := false, ""
	for _, line := range strings.Split(page, "\n") {
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case ".Sh":
			inSynopsis = len(words) == 2 && words[1] == "SYNOPSIS"
			continue
		case ".Ss":
			if len(words) == 3 && words[1] == "gif" {
				sections = append(sections, words[2])
			}
			continue
		case ".Nm":
			command = ""
			continue
		}
		if !inSynopsis {
			continue
		}
		for i, w := range words {
			switch {
			case i+1 == len(words):
			case w == ".Cm" && command == "":
				command = words[i+1]
				if _, ok := synopsis[command]; !ok {
					synopsis[command] = nil
				}
			case w == "Fl" || w == ".Fl":
				for _, f := range flagCluster(words[i+1]) {
					if !slices.Contains(synopsis[command], f) {
						synopsis[command] = append(synopsis[command], f)
					}
				}
			}
		}
	}
	return synopsis, sections
}

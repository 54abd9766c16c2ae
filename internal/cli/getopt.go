package cli

import "strings"

// clusterFlags splits clustered one-letter flags as getopt(3) reads them,
// so that `-nvf FILE` is `-n -v -f FILE` and `-fFILE` is `-f FILE`: the
// way OpenBSD's tools are typed. valued names the letters that take a
// value. It stops at "--" and at the first argument that is no flag.
func clusterFlags(args []string, valued string) []string {
	var out []string
	for i, a := range args {
		if a == "--" || len(a) < 2 || a[0] != '-' || a[1] == '-' {
			return append(out, args[i:]...)
		}
		for j := 1; j < len(a); j++ {
			out = append(out, "-"+a[j:j+1])
			if strings.IndexByte(valued, a[j]) >= 0 {
				if j+1 < len(a) {
					out = append(out, a[j+1:])
				}
				break
			}
		}
	}
	return out
}

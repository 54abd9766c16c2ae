package tunnel

import "fmt"

// A Transaction is ifconfig commands, possibly for several interfaces,
// that apply as one change: all of them or none. gif netstart sends each
// hostname.IF file as one, so that a file applies whole or not at all.
type Transaction struct {
	// File is where the commands were read, for errors; "" for a command
	// typed on ifconfig's command line.
	File     string    `json:"file,omitempty"`
	Commands []Command `json:"commands"`
}

// A Command is the operations of one ifconfig command for the interface
// Name, read from line Line of the transaction's File.
type Command struct {
	Name string `json:"name"`
	Ops  []Op   `json:"ops"`
	Line int    `json:"line,omitempty"`
}

// ApplyTransaction applies the commands of t that name a gif or bridge,
// in order, each as Apply does, and returns the new state. Either all of
// them apply or the error is the first failing command's, at its line
// (see At), and s is untouched. A command for any other interface is not
// of the state: the caller sets it on Linux.
func (s State) ApplyTransaction(t Transaction, env Env) (State, []string, error) {
	next := s
	var warnings []string
	for i, c := range t.Commands {
		if !IsGif(c.Name) && !IsBridge(c.Name) {
			continue
		}
		var w []string
		var err error
		if next, w, err = next.Apply(c.Name, c.Ops, env); err != nil {
			return s, nil, t.At(i, err)
		}
		warnings = append(warnings, w...)
	}
	return next, warnings, nil
}

// At returns err as the error of command i of t: "FILE:LINE: err" for a
// command read from a file, err itself for one typed.
func (t Transaction) At(i int, err error) error {
	switch {
	case t.File == "":
		return err
	case i < 0 || i >= len(t.Commands) || t.Commands[i].Line <= 0:
		return fmt.Errorf("%s: %w", t.File, err)
	}
	return fmt.Errorf("%s:%d: %w", t.File, t.Commands[i].Line, err)
}

// Whole returns err as the error of the whole of t, one that no single
// command caused, such as Linux refusing the change they make together:
// at the first command's line, naming the lines when there are several.
func (t Transaction) Whole(err error) error {
	if len(t.Commands) == 0 {
		return err
	}
	first, last := t.Commands[0].Line, t.Commands[len(t.Commands)-1].Line
	if t.File != "" && first != last {
		err = fmt.Errorf("lines %d-%d, applied as one change: %w", first, last, err)
	}
	return t.At(0, err)
}

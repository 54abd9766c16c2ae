package policy

import (
	"encoding"
	"testing"

	"gif/internal/ipsec"
)

// textEnum is an enum of the model with its text form.
type textEnum interface {
	encoding.TextMarshaler
	String() string
}

// TestEnumWords checks that each enum value travels as its ipsec.conf
// word and comes back from it, and that a word no value has is refused.
func TestEnumWords(t *testing.T) {
	tests := []struct {
		words []string
		value func(i int) textEnum
		read  func(word string) (textEnum, error)
	}{
		{[]string{"esp", "ah"}, func(i int) textEnum { return Proto(i) },
			func(w string) (textEnum, error) { var v Proto; err := v.UnmarshalText([]byte(w)); return v, err }},
		{[]string{"in", "out"}, func(i int) textEnum { return Dir(i) },
			func(w string) (textEnum, error) { var v Dir; err := v.UnmarshalText([]byte(w)); return v, err }},
		{[]string{"require", "use", "acquire", "dontacq", "deny", "bypass"}, func(i int) textEnum { return FlowType(i) },
			func(w string) (textEnum, error) { var v FlowType; err := v.UnmarshalText([]byte(w)); return v, err }},
		{[]string{"active", "passive", "dynamic"}, func(i int) textEnum { return Start(i) },
			func(w string) (textEnum, error) { var v Start; err := v.UnmarshalText([]byte(w)); return v, err }},
		{[]string{"tunnel", "transport"}, func(i int) textEnum { return ipsec.Mode(i) },
			func(w string) (textEnum, error) { var v ipsec.Mode; err := v.UnmarshalText([]byte(w)); return v, err }},
	}
	for _, tc := range tests {
		for i, w := range tc.words {
			v := tc.value(i)
			text, err := v.MarshalText()
			if err != nil || string(text) != w || v.String() != w {
				t.Errorf("value %d of %T: text %q (%v), String %q; want %q", i, v, text, err, v.String(), w)
			}
			back, err := tc.read(w)
			if err != nil || back != v {
				t.Errorf("%q reads as %v (%v), want %v", w, back, err, v)
			}
		}
		beyond := tc.value(len(tc.words))
		if text, err := beyond.MarshalText(); err == nil {
			t.Errorf("%T %d, which has no word, is written as %q", beyond, len(tc.words), text)
		}
		for _, w := range []string{"", "ESP", tc.words[0] + " "} {
			if v, err := tc.read(w); err == nil {
				t.Errorf("%q is read as %T %v, want an error", w, v, v)
			}
		}
	}
}

// TestFlowTypeMeaning holds the flow types to what they do without a
// key daemon: acquire is use and dontacq is require.
func TestFlowTypeMeaning(t *testing.T) {
	for typ, want := range map[FlowType]struct{ protects, requires bool }{
		Require: {true, true}, Use: {true, false}, Acquire: {true, false},
		DontAcq: {true, true}, Deny: {false, false}, Bypass: {false, false},
	} {
		if typ.Protects() != want.protects || typ.Requires() != want.requires {
			t.Errorf("%s: Protects %v Requires %v, want %v %v", typ, typ.Protects(), typ.Requires(), want.protects, want.requires)
		}
	}
}

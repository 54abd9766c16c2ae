package ipsecconf

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"gif/internal/ipsec/policy"
)

// TestJSONForm holds the JSON form of the rules, which the control API
// carries and the daemon stores in ipsec.json, to what it was before the
// policy model had typed enums: testdata/json-form.json was written from
// testdata/json-form.conf by the parser of then. The file covers every
// flow type, both directions, modes, protocols and ike starts. A stored
// file of then must load, and the rules of now must write it byte for byte.
func TestJSONForm(t *testing.T) {
	conf, err := os.ReadFile("testdata/json-form.conf")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile("testdata/json-form.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("testdata/json-form.conf", conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The file was written from a parse named ipsec.conf.
	setFile := func(c *policy.Config) {
		for i := range c.SAs {
			c.SAs[i].File = "ipsec.conf"
		}
		for i := range c.Flows {
			c.Flows[i].File = "ipsec.conf"
		}
		for i := range c.IKE {
			c.IKE[i].File = "ipsec.conf"
		}
	}
	setFile(cfg)
	written, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, stored) {
		t.Errorf("JSON form changed:\n got %s\nwant %s", written, stored)
	}
	var loaded policy.Config
	if err := json.Unmarshal(stored, &loaded); err != nil {
		t.Fatalf("load a stored file: %v", err)
	}
	if !reflect.DeepEqual(&loaded, cfg) {
		t.Errorf("stored file loads as\n%+v\nwant\n%+v", loaded, *cfg)
	}
}

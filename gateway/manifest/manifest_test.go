package manifest

import (
	"strings"
	"testing"
)

func TestValidateNamesTheInstance(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	good := Instance{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: "1.2.3.4", SeriesUID: "1.2.3.1",
		TransferSyntax: "1.2.840.10008.1.2.1", Size: 10, SHA256: sha}
	cases := []struct {
		name string
		edit func(*Manifest)
		want string
	}{
		{"valid", func(*Manifest) {}, ""},
		{"study not a UID", func(m *Manifest) { m.StudyUID = "1.2.x" }, "study_uid"},
		{"no instances", func(m *Manifest) { m.Instances = nil }, "no instances"},
		{"listed twice", func(m *Manifest) { m.Instances = append(m.Instances, good) }, "listed twice"},
		{"bad sha", func(m *Manifest) { m.Instances[0].SHA256 = "abc" }, "instance 1.2.3.4: sha256"},
		{"bad instance UID", func(m *Manifest) { m.Instances[0].SOPInstanceUID = "../x" }, "instances[0].sop_instance_uid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Manifest{StudyUID: "1.2.3", Instances: []Instance{good}}
			c.edit(m)
			err := m.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestObjectKeysAreUIDsUnderTheGatewaysPrefix(t *testing.T) {
	key := ObjectKey("county-a", "gw-a", "1.2.3", "1.2.3.4", strings.Repeat("0f", 32))
	if key != "county-a/gw-a/studies/1.2.3/1.2.3.4.0f0f0f0f0f0f0f0f.dcm" {
		t.Errorf("key %q", key)
	}
	if !KeyOwnedBy(key, "county-a", "gw-a") || KeyOwnedBy(key, "county-a", "gw") || KeyOwnedBy("county-a/gw-a/studies/../x", "county-a", "gw-a") {
		t.Error("KeyOwnedBy: want only keys under relay/client/studies/ without ..")
	}
}

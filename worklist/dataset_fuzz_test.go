package worklist

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeDataset: any input is refused or gives a dataset that encodes
// and decodes to the same JSON.
func FuzzDecodeDataset(f *testing.F) {
	for _, seed := range []string{
		`{"00741000":{"vr":"CS","Value":["SCHEDULED"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"Wang^Fang"}]}}`,
		`[{"00741216":{"vr":"SQ","Value":[{"00404050":{"vr":"DT","Value":["20261130090000"]}}]}}]`,
		`{"00741002":{"vr":"SQ","Value":[{"00741004":{"vr":"DS","Value":[50]}}]},"00081195":{"vr":"UI"}}`,
		`{"7FE00010":{"vr":"OB","InlineBinary":"AAEC"}}`, `[]`, `{}`, `null`, `{"x":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := DecodeDataset(data)
		if err != nil {
			return
		}
		a, err := json.Marshal(ds)
		if err != nil {
			t.Fatalf("encode decoded dataset: %v", err)
		}
		again, err := DecodeDataset(a)
		if err != nil {
			t.Fatalf("re-decode %s: %v", a, err)
		}
		if b, _ := json.Marshal(again); string(a) != string(b) {
			t.Fatalf("round trip changed the dataset:\n%s\n%s", a, b)
		}
	})
}

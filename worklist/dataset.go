package worklist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Attr is one attribute in the DICOM JSON model (PS3.18 F.2): its VR and
// its values, kept as raw JSON so that what a client sent is returned
// unchanged.
type Attr struct {
	VR           string            `json:"vr"`
	Value        []json.RawMessage `json:"Value,omitempty"`
	InlineBinary string            `json:"InlineBinary,omitempty"`
	BulkDataURI  string            `json:"BulkDataURI,omitempty"`
}

// Dataset is a DICOM JSON object: tag (8 upper-case hex digits) →
// attribute. encoding/json writes map keys sorted, which is the tag order
// the model asks for.
type Dataset map[string]*Attr

var (
	validTag = regexp.MustCompile(`^[0-9A-F]{8}$`)
	validVR  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// maxDepth bounds sequence nesting in a request.
const maxDepth = 8

// DecodeDataset parses one dataset, or an array holding exactly one (the
// form some clients send), and checks tags and VRs.
func DecodeDataset(data []byte) (Dataset, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, fmt.Errorf("body is not DICOM JSON: %v", err)
		}
		if len(arr) != 1 {
			return nil, fmt.Errorf("body holds %d datasets; want exactly one", len(arr))
		}
		data = arr[0]
	}
	var ds Dataset
	if err := json.Unmarshal(data, &ds); err != nil {
		return nil, fmt.Errorf("body is not DICOM JSON (an object of \"GGGGEEEE\": {\"vr\":..., \"Value\":[...]}): %v", err)
	}
	if ds == nil {
		return nil, fmt.Errorf("body is not DICOM JSON: want an object")
	}
	return ds, ds.check(0)
}

func (ds Dataset) check(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("sequences nested deeper than %d", maxDepth)
	}
	for tag, a := range ds {
		if !validTag.MatchString(tag) {
			return fmt.Errorf("attribute %q: a tag is 8 upper-case hex digits, like \"00741000\"", tag)
		}
		if a == nil || !validVR.MatchString(a.VR) {
			return fmt.Errorf("attribute %s: missing or invalid \"vr\" (two upper-case letters)", tag)
		}
		if a.VR == "SQ" {
			items, err := a.Items()
			if err != nil {
				return fmt.Errorf("attribute %s: %v", tag, err)
			}
			for _, it := range items {
				if err := it.check(depth + 1); err != nil {
					return fmt.Errorf("in %s: %w", tag, err)
				}
			}
		}
	}
	return nil
}

// Items decodes a sequence's items.
func (a *Attr) Items() ([]Dataset, error) {
	out := make([]Dataset, 0, len(a.Value))
	for _, v := range a.Value {
		var it Dataset
		if err := json.Unmarshal(v, &it); err != nil || it == nil {
			return nil, fmt.Errorf("sequence item is not a dataset")
		}
		out = append(out, it)
	}
	return out, nil
}

// Str is the first value of tag as text ("" when absent or empty). A
// person name gives its Alphabetic group; numbers their JSON text.
func (ds Dataset) Str(tag string) string {
	a := ds[tag]
	if a == nil || len(a.Value) == 0 {
		return ""
	}
	return valueText(a.Value[0])
}

// Strs is every value of tag as text.
func (ds Dataset) Strs(tag string) []string {
	a := ds[tag]
	if a == nil {
		return nil
	}
	out := make([]string, len(a.Value))
	for i, v := range a.Value {
		out[i] = valueText(v)
	}
	return out
}

func valueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var pn struct{ Alphabetic string }
	if json.Unmarshal(v, &pn) == nil && pn.Alphabetic != "" {
		return pn.Alphabetic
	}
	return strings.TrimSpace(string(v))
}

// SetStr sets tag to one text value of the given VR.
func (ds Dataset) SetStr(tag, vr, s string) {
	v, _ := json.Marshal(s)
	ds[tag] = &Attr{VR: vr, Value: []json.RawMessage{v}}
}

// SetUS sets tag to one unsigned short.
func (ds Dataset) SetUS(tag string, n uint16) {
	ds[tag] = &Attr{VR: "US", Value: []json.RawMessage{json.RawMessage(fmt.Sprint(n))}}
}

// Clone copies the top level (attributes are shared, not changed in place).
func (ds Dataset) Clone() Dataset {
	out := make(Dataset, len(ds))
	for k, v := range ds {
		out[k] = v
	}
	return out
}

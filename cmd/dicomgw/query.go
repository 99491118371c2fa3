package main

import (
	"fmt"
	"strings"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

// defaultKeys are returned for each level unless the query names them.
var defaultKeys = map[string][]string{
	"PATIENT": {"PatientID", "PatientName"},
	"STUDY":   {"StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "AccessionNumber", "StudyDescription", "ModalitiesInStudy"},
	"SERIES":  {"StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber"},
	"IMAGE":   {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "InstanceNumber"},
}

func checkLevel(level string) (string, error) {
	l := strings.ToUpper(level)
	if _, ok := defaultKeys[l]; !ok {
		return "", usageErrorf("invalid --level %q (want STUDY, SERIES or IMAGE)", level)
	}
	return l, nil
}

// buildQuery makes the identifier: the level, the -k keys, and (when
// withDefaults) the level's usual return keys left empty.
func buildQuery(level string, keys []string, withDefaults bool) (*dicom.DataSet, error) {
	ds := dicom.NewDataSet(dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0052}, dicom.CS, level))
	if withDefaults {
		for _, kw := range defaultKeys[level] {
			if e, ok := dicom.LookupKeyword(kw); ok {
				ds.Set(dicom.NewString(e.Tag, e.VR))
			}
		}
	}
	for _, kv := range keys {
		name, value, _ := strings.Cut(kv, "=")
		t, err := dicom.ParseTag(strings.TrimSpace(name))
		if err != nil {
			return nil, usageErrorf("-k %q: unknown attribute %q (want a keyword such as PatientID or a tag such as 0010,0020)", kv, name)
		}
		e, ok := dicom.LookupTag(t)
		if !ok || e.VR == dicom.SQ {
			return nil, usageErrorf("-k %q: attribute %s is not in the dictionary as a text attribute; use a keyword such as PatientID", kv, t)
		}
		ds.Set(dicom.NewString(t, e.VR, value))
	}
	return ds, nil
}

// queryContexts proposes one information model in both little endian
// syntaxes.
func queryContexts(sopClass string) []ul.PresentationContext {
	return []ul.PresentationContext{{AbstractSyntax: sopClass,
		TransferSyntaxes: []string{dimse.ExplicitVRLittle, dimse.ImplicitVRLittle}}}
}

func encodeQuery(c *dimse.Client, sopClass string, ds *dicom.DataSet) ([]byte, string, error) {
	ts, ok := c.TransferSyntax(sopClass)
	if !ok {
		return nil, "", fmt.Errorf("the peer accepted no context for %s", dicom.UIDName(sopClass))
	}
	b, err := dicom.Encode(ds, ts)
	if err != nil {
		return nil, "", fmt.Errorf("encode query: %w", err)
	}
	return b, ts, nil
}

// Package manifest defines what gateways say to each other through the
// relay: the commands, their args, and the JSON bodies of a study's
// manifest, a receipt and a request for missing instances. Both sides of
// the pipeline (send and deliver) and SDK applications use it; it holds
// no logic beyond encoding and checking.
//
// Bodies carry UIDs, sizes, hashes and object keys only: never patient
// data.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Commands (docs/gateway.md documents their args).
const (
	// Available announces a study to the receiving gateway (sender → receiver).
	Available = "study.available"
	// Received is the receipt (receiver → sender, and sender → requester).
	Received = "study.received"
	// Request asks the sender for missing instances (receiver → sender).
	Request = "study.request"
	// Send asks a gateway to pull a study from a peer and send it (application → gateway).
	Send = "study.send"
)

// InlineLimit is the largest manifest carried in an envelope's body; a
// larger one travels as a file next to the envelope (the relay's body
// limit is 1 MiB by default).
const InlineLimit = 256 << 10

// MediaType of a manifest uploaded as a file.
const MediaType = "application/vnd.medrelay.study-manifest+json"

// Instance is one SOP instance in a manifest.
type Instance struct {
	SOPClassUID    string `json:"sop_class_uid"`
	SOPInstanceUID string `json:"sop_instance_uid"`
	SeriesUID      string `json:"series_uid"`
	TransferSyntax string `json:"transfer_syntax"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	// Key is the object in storage; empty when the sender knows the
	// destination already has this instance with this SHA-256 (it was
	// not uploaded again; the receiver asks for it if it disagrees).
	Key string `json:"key,omitempty"`
}

// Unavailable is an instance the sender cannot provide.
type Unavailable struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	Reason         string `json:"reason"`
}

// Manifest is a study's content list.
type Manifest struct {
	StudyUID    string         `json:"study_uid"`
	Round       int            `json:"round"`
	Destination string         `json:"destination,omitempty"`
	Store       string         `json:"store"`            // FileRef.Store of the objects
	Bucket      string         `json:"bucket,omitempty"` // FileRef.Bucket of the objects
	Series      map[string]int `json:"series"`           // instances per series UID
	Instances   []Instance     `json:"instances"`
	// Supplement marks an answer to a Request: only the instances asked for.
	Supplement bool `json:"supplement,omitempty"`
	// Partial marks an announce sent while the study still arrives: the
	// instances uploaded so far, for the receiver to start on. The final
	// announce (not partial) lists the whole study.
	Partial     bool          `json:"partial,omitempty"`
	Unavailable []Unavailable `json:"unavailable,omitempty"`
}

// Receipt is the body of study.received.
type Receipt struct {
	StudyUID       string    `json:"study_uid"`
	Round          int       `json:"round"`
	Destination    string    `json:"destination"`
	Instances      int       `json:"instances"`
	Stored         int       `json:"stored"`
	AlreadyPresent int       `json:"already_present"`
	Failed         int       `json:"failed"`
	Failures       []Failure `json:"failures,omitempty"`
	NewVersions    []string  `json:"new_versions,omitempty"`
}

// Failure is an instance that was not delivered.
type Failure struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	Status         string `json:"status,omitempty"` // DICOM status (hex) when one was answered
	Reason         string `json:"reason"`
	Step           string `json:"step"`
}

// RequestBody is the body of study.request.
type RequestBody struct {
	StudyUID  string   `json:"study_uid"`
	Round     int      `json:"round"`
	Instances []string `json:"instances"`
}

var (
	uidRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidUID reports whether s is a UID usable in keys and file names.
func ValidUID(s string) bool { return len(s) <= 64 && uidRE.MatchString(s) }

// Validate checks a manifest's form; problems name the instance.
func (m *Manifest) Validate() error {
	if !ValidUID(m.StudyUID) {
		return fmt.Errorf("manifest: study_uid %q is not a UID", m.StudyUID)
	}
	if len(m.Instances) == 0 && len(m.Unavailable) == 0 {
		return errors.New("manifest: no instances")
	}
	seen := map[string]bool{}
	for i, in := range m.Instances {
		switch {
		case !ValidUID(in.SOPInstanceUID):
			return fmt.Errorf("manifest: instances[%d].sop_instance_uid %q is not a UID", i, in.SOPInstanceUID)
		case seen[in.SOPInstanceUID]:
			return fmt.Errorf("manifest: instance %s is listed twice", in.SOPInstanceUID)
		case !ValidUID(in.SOPClassUID) || !ValidUID(in.TransferSyntax):
			return fmt.Errorf("manifest: instance %s: invalid sop_class_uid or transfer_syntax", in.SOPInstanceUID)
		case !shaRE.MatchString(in.SHA256):
			return fmt.Errorf("manifest: instance %s: sha256 %q is not 64 hex digits", in.SOPInstanceUID, in.SHA256)
		case in.Size < 0:
			return fmt.Errorf("manifest: instance %s: negative size", in.SOPInstanceUID)
		}
		seen[in.SOPInstanceUID] = true
	}
	return nil
}

// Decode parses and validates a manifest.
func Decode(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, m.Validate()
}

// ObjectKey is where a gateway puts an instance: under the gateway's
// address, by UIDs and a prefix of the SHA-256 (never patient data).
func ObjectKey(relay, client, study, sop, sha string) string {
	return fmt.Sprintf("%s/%s/studies/%s/%s.%s.dcm", relay, client, study, sop, sha[:16])
}

// KeyOwnedBy reports whether key lies under the gateway address's prefix,
// so a receiver downloads only what the announcing gateway uploaded.
func KeyOwnedBy(key, relay, client string) bool {
	return strings.HasPrefix(key, relay+"/"+client+"/studies/") && !strings.Contains(key, "..")
}

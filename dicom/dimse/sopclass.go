package dimse

import "strings"

// SOP classes of the services here.
const (
	Verification = "1.2.840.10008.1.1"

	PatientRootFind  = "1.2.840.10008.5.1.4.1.2.1.1"
	PatientRootMove  = "1.2.840.10008.5.1.4.1.2.1.2"
	StudyRootFind    = "1.2.840.10008.5.1.4.1.2.2.1"
	StudyRootMove    = "1.2.840.10008.5.1.4.1.2.2.2"
	ImplicitVRLittle = "1.2.840.10008.1.2"
	ExplicitVRLittle = "1.2.840.10008.1.2.1"
)

// dicomRoot is the UID root of SOP classes defined by the standard.
const dicomRoot = "1.2.840.10008."

// storageRoots hold the standard storage SOP classes: the "1.1" branch of
// the storage service class and the few defined elsewhere (hanging
// protocols, color palettes, implant templates, RT instructions...).
var storageRoots = []string{
	"1.2.840.10008.5.1.4.1.1.",
	"1.2.840.10008.5.1.4.34.",
	"1.2.840.10008.5.1.4.38.",
	"1.2.840.10008.5.1.4.39.",
	"1.2.840.10008.5.1.4.43.",
	"1.2.840.10008.5.1.4.44.",
	"1.2.840.10008.5.1.4.45.",
}

// IsStorageSOPClass reports whether a storage SCP should accept uid: every
// standard storage SOP class, and every private SOP class (outside the
// DICOM root), which a store-and-forward gateway keeps as received. Other
// standard SOP classes (queries, worklists, print...) are not storage.
func IsStorageSOPClass(uid string) bool {
	if !validUID(uid) {
		return false
	}
	if !strings.HasPrefix(uid, dicomRoot) {
		return true
	}
	for _, root := range storageRoots {
		if strings.HasPrefix(uid, root) {
			return true
		}
	}
	return false
}

func validUID(uid string) bool {
	if uid == "" || len(uid) > 64 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if c := uid[i]; (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

package worklist

import (
	"regexp"
	"strings"
)

// Well-known UIDs (PS3.4 CC.3.1, PS3.6 Annex A).
const (
	UPSPushSOPClass  = "1.2.840.10008.5.1.4.34.6.1"
	GlobalSubscriber = "1.2.840.10008.5.1.4.34.5"   // all workitems
	FilteredGlobal   = "1.2.840.10008.5.1.4.34.5.1" // workitems matching keys
)

// Tags used by the service.
const (
	tagStatus             = "00000900"
	tagErrorComment       = "00000902"
	tagAffectedSOPInst    = "00001000"
	tagEventTypeID        = "00001002"
	tagSOPClassUID        = "00080016"
	tagSOPInstanceUID     = "00080018"
	tagTransactionUID     = "00081195"
	tagSPSStartDateTime   = "00404005"
	tagHumanPerformers    = "00404034"
	tagStationNameCodes   = "00404025"
	tagInputReadiness     = "00404041"
	tagPPSStartDateTime   = "00404050"
	tagPPSEndDateTime     = "00404051"
	tagProcedureStepState = "00741000"
	tagProgressInfo       = "00741002"
	tagPriority           = "00741200"
	tagPerformedProcedure = "00741216"
	tagDeletionLock       = "00741230"
	tagReceivingAE        = "00741234"
	tagRequestingAE       = "00741236"
	tagReasonForCancel    = "00741238"
	tagSCPStatus          = "00741242"
)

// keywords maps the attribute keywords accepted in query keys and
// includefield to tags; any tag may also be given as 8 hex digits.
var keywords = map[string]string{
	"SOPClassUID": tagSOPClassUID, "SOPInstanceUID": tagSOPInstanceUID,
	"PatientName": "00100010", "PatientID": "00100020", "PatientBirthDate": "00100030", "PatientSex": "00100040",
	"AccessionNumber": "00080050", "StudyInstanceUID": "0020000D", "ReferencedRequestSequence": "0040A370",
	"RequestedProcedureID": "00401001", "ScheduledProcedureStepStartDateTime": tagSPSStartDateTime,
	"ScheduledProcedureStepExpirationDateTime": "00404008", "ScheduledHumanPerformersSequence": tagHumanPerformers,
	"ScheduledStationNameCodeSequence": tagStationNameCodes, "InputReadinessState": tagInputReadiness,
	"ProcedureStepState": tagProcedureStepState, "ScheduledProcedureStepPriority": tagPriority,
	"WorklistLabel": "00741202", "ProcedureStepLabel": "00741204", "ScheduledWorkitemCodeSequence": "00404018",
	"ScheduledStationClassCodeSequence": "00404026", "ScheduledStationGeographicLocationCodeSequence": "00404027",
	"CodeValue": "00080100", "CodingSchemeDesignator": "00080102", "CodeMeaning": "00080104",
	"HumanPerformerCodeSequence": "00404009", "HumanPerformerOrganization": "00404036", "ProcedureStepProgressInformationSequence": tagProgressInfo,
	"ScheduledProcedureStepModificationDateTime": "00404010", "IssuerOfPatientID": "00100021",
}

// defaultReturn are the attributes a search returns besides its keys and
// includefield (the common Return Key Type 1 and 2 attributes of PS3.4
// Table CC.2.5-3).
var defaultReturn = []string{tagSOPClassUID, tagSOPInstanceUID, "00080005", "00100010", "00100020", "00100030",
	"00100040", "0040A370", "00404005", "00404008", tagHumanPerformers, tagStationNameCodes, "00404018",
	tagInputReadiness, tagProcedureStepState, tagPriority, "00741202", "00741204", "00404010"}

var hexTag = regexp.MustCompile(`^[0-9A-Fa-f]{8}$`)

// resolveTag turns a keyword or hex tag into a tag.
func resolveTag(s string) (string, bool) {
	if hexTag.MatchString(s) {
		return strings.ToUpper(s), true
	}
	t, ok := keywords[s]
	return t, ok
}

// resolvePath turns "Tag" or "Seq.Tag" (one level) into tags.
func resolvePath(s string) ([]string, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return nil, false
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		t, ok := resolveTag(p)
		if !ok {
			return nil, false
		}
		out[i] = t
	}
	return out, true
}

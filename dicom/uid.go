package dicom

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// Identity of this implementation, written in file meta groups and (by the
// networking packages) in association requests.
const (
	// ImplementationClassUID is medrelay's implementation class UID.
	ImplementationClassUID = "2.25.334327514653805608037254158959167684694"
	// ImplementationVersionName is at most 16 characters: longer names make
	// some peers drop the association silently.
	ImplementationVersionName = "MEDRELAY_1"
)

// Transfer syntax UIDs.
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2"
	JPEGBaseline8Bit               = "1.2.840.10008.1.2.4.50"
	JPEGExtended12Bit              = "1.2.840.10008.1.2.4.51"
	JPEGLossless                   = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1                = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless                 = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless             = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless               = "1.2.840.10008.1.2.4.90"
	JPEG2000                       = "1.2.840.10008.1.2.4.91"
	MPEG2MainProfile               = "1.2.840.10008.1.2.4.100"
	MPEG4HighProfile               = "1.2.840.10008.1.2.4.102"
	RLELossless                    = "1.2.840.10008.1.2.5"
)

// TransferSyntax describes how a data set is encoded.
type TransferSyntax struct {
	UID          string
	Name         string
	Implicit     bool // implicit VR (only Implicit VR Little Endian)
	BigEndian    bool // retired Explicit VR Big Endian; read only
	Deflated     bool // data set compressed with raw deflate (RFC 1951)
	Encapsulated bool // pixel data stored as fragments
}

var transferSyntaxes = []TransferSyntax{
	{UID: ImplicitVRLittleEndian, Name: "Implicit VR Little Endian", Implicit: true},
	{UID: ExplicitVRLittleEndian, Name: "Explicit VR Little Endian"},
	{UID: DeflatedExplicitVRLittleEndian, Name: "Deflated Explicit VR Little Endian", Deflated: true},
	{UID: ExplicitVRBigEndian, Name: "Explicit VR Big Endian", BigEndian: true},
	{UID: JPEGBaseline8Bit, Name: "JPEG Baseline (Process 1)", Encapsulated: true},
	{UID: JPEGExtended12Bit, Name: "JPEG Extended (Process 2 & 4)", Encapsulated: true},
	{UID: JPEGLossless, Name: "JPEG Lossless, Non-Hierarchical (Process 14)", Encapsulated: true},
	{UID: JPEGLosslessSV1, Name: "JPEG Lossless, First-Order Prediction", Encapsulated: true},
	{UID: JPEGLSLossless, Name: "JPEG-LS Lossless", Encapsulated: true},
	{UID: JPEGLSNearLossless, Name: "JPEG-LS Near-Lossless", Encapsulated: true},
	{UID: JPEG2000Lossless, Name: "JPEG 2000 (Lossless Only)", Encapsulated: true},
	{UID: JPEG2000, Name: "JPEG 2000", Encapsulated: true},
	{UID: MPEG2MainProfile, Name: "MPEG2 Main Profile @ Main Level", Encapsulated: true},
	{UID: MPEG4HighProfile, Name: "MPEG-4 AVC/H.264 High Profile", Encapsulated: true},
	{UID: RLELossless, Name: "RLE Lossless", Encapsulated: true},
}

// LookupTransferSyntax returns the transfer syntax with the given UID
// (trailing NUL or space padding ignored).
func LookupTransferSyntax(uid string) (TransferSyntax, bool) {
	uid = TrimUID(uid)
	for _, ts := range transferSyntaxes {
		if ts.UID == uid {
			return ts, true
		}
	}
	return TransferSyntax{}, false
}

// syntaxOf returns the transfer syntax used to decode a data set. Unknown
// UIDs are treated as Explicit VR Little Endian with encapsulated pixel
// data, which is what every compressed syntax uses (PS3.5 A.4).
func syntaxOf(uid string) TransferSyntax {
	if ts, ok := LookupTransferSyntax(uid); ok {
		return ts
	}
	return TransferSyntax{UID: TrimUID(uid), Name: "unknown", Encapsulated: true}
}

// SOPClass is a well-known SOP class.
type SOPClass struct {
	UID     string
	Keyword string
	Storage bool // a storage SOP class (C-STORE)
}

// Well-known SOP class UIDs.
const (
	VerificationSOPClass       = "1.2.840.10008.1.1"
	CTImageStorage             = "1.2.840.10008.5.1.4.1.1.2"
	EnhancedCTImageStorage     = "1.2.840.10008.5.1.4.1.1.2.1"
	MRImageStorage             = "1.2.840.10008.5.1.4.1.1.4"
	EnhancedMRImageStorage     = "1.2.840.10008.5.1.4.1.1.4.1"
	CRImageStorage             = "1.2.840.10008.5.1.4.1.1.1"
	DXImageStorageForPresent   = "1.2.840.10008.5.1.4.1.1.1.1"
	DXImageStorageForProcess   = "1.2.840.10008.5.1.4.1.1.1.1.1"
	MammographyForPresentation = "1.2.840.10008.5.1.4.1.1.1.2"
	USImageStorage             = "1.2.840.10008.5.1.4.1.1.6.1"
	USMultiFrameImageStorage   = "1.2.840.10008.5.1.4.1.1.3.1"
	SecondaryCaptureStorage    = "1.2.840.10008.5.1.4.1.1.7"
	MultiFrameGrayByteSC       = "1.2.840.10008.5.1.4.1.1.7.2"
	MultiFrameGrayWordSC       = "1.2.840.10008.5.1.4.1.1.7.3"
	MultiFrameTrueColorSC      = "1.2.840.10008.5.1.4.1.1.7.4"
	XAImageStorage             = "1.2.840.10008.5.1.4.1.1.12.1"
	NMImageStorage             = "1.2.840.10008.5.1.4.1.1.20"
	PETImageStorage            = "1.2.840.10008.5.1.4.1.1.128"
	RTImageStorage             = "1.2.840.10008.5.1.4.1.1.481.1"
	RTDoseStorage              = "1.2.840.10008.5.1.4.1.1.481.2"
	RTStructureSetStorage      = "1.2.840.10008.5.1.4.1.1.481.3"
	RTPlanStorage              = "1.2.840.10008.5.1.4.1.1.481.5"
	VLPhotographicImageStorage = "1.2.840.10008.5.1.4.1.1.77.1.4"
	GrayscaleSoftcopyPSStorage = "1.2.840.10008.5.1.4.1.1.11.1"
	BasicTextSRStorage         = "1.2.840.10008.5.1.4.1.1.88.11"
	EnhancedSRStorage          = "1.2.840.10008.5.1.4.1.1.88.22"
	ComprehensiveSRStorage     = "1.2.840.10008.5.1.4.1.1.88.33"
	EncapsulatedPDFStorage     = "1.2.840.10008.5.1.4.1.1.104.1"

	PatientRootQRFind = "1.2.840.10008.5.1.4.1.2.1.1"
	PatientRootQRMove = "1.2.840.10008.5.1.4.1.2.1.2"
	PatientRootQRGet  = "1.2.840.10008.5.1.4.1.2.1.3"
	StudyRootQRFind   = "1.2.840.10008.5.1.4.1.2.2.1"
	StudyRootQRMove   = "1.2.840.10008.5.1.4.1.2.2.2"
	StudyRootQRGet    = "1.2.840.10008.5.1.4.1.2.2.3"
)

var sopClasses = []SOPClass{
	{VerificationSOPClass, "Verification", false},
	{CTImageStorage, "CTImageStorage", true},
	{EnhancedCTImageStorage, "EnhancedCTImageStorage", true},
	{MRImageStorage, "MRImageStorage", true},
	{EnhancedMRImageStorage, "EnhancedMRImageStorage", true},
	{CRImageStorage, "ComputedRadiographyImageStorage", true},
	{DXImageStorageForPresent, "DigitalXRayImageStorageForPresentation", true},
	{DXImageStorageForProcess, "DigitalXRayImageStorageForProcessing", true},
	{MammographyForPresentation, "DigitalMammographyXRayImageStorageForPresentation", true},
	{USImageStorage, "UltrasoundImageStorage", true},
	{USMultiFrameImageStorage, "UltrasoundMultiFrameImageStorage", true},
	{SecondaryCaptureStorage, "SecondaryCaptureImageStorage", true},
	{MultiFrameGrayByteSC, "MultiFrameGrayscaleByteSecondaryCaptureImageStorage", true},
	{MultiFrameGrayWordSC, "MultiFrameGrayscaleWordSecondaryCaptureImageStorage", true},
	{MultiFrameTrueColorSC, "MultiFrameTrueColorSecondaryCaptureImageStorage", true},
	{XAImageStorage, "XRayAngiographicImageStorage", true},
	{NMImageStorage, "NuclearMedicineImageStorage", true},
	{PETImageStorage, "PositronEmissionTomographyImageStorage", true},
	{RTImageStorage, "RTImageStorage", true},
	{RTDoseStorage, "RTDoseStorage", true},
	{RTStructureSetStorage, "RTStructureSetStorage", true},
	{RTPlanStorage, "RTPlanStorage", true},
	{VLPhotographicImageStorage, "VLPhotographicImageStorage", true},
	{GrayscaleSoftcopyPSStorage, "GrayscaleSoftcopyPresentationStateStorage", true},
	{BasicTextSRStorage, "BasicTextSRStorage", true},
	{EnhancedSRStorage, "EnhancedSRStorage", true},
	{ComprehensiveSRStorage, "ComprehensiveSRStorage", true},
	{EncapsulatedPDFStorage, "EncapsulatedPDFStorage", true},
	{PatientRootQRFind, "PatientRootQueryRetrieveInformationModelFind", false},
	{PatientRootQRMove, "PatientRootQueryRetrieveInformationModelMove", false},
	{PatientRootQRGet, "PatientRootQueryRetrieveInformationModelGet", false},
	{StudyRootQRFind, "StudyRootQueryRetrieveInformationModelFind", false},
	{StudyRootQRMove, "StudyRootQueryRetrieveInformationModelMove", false},
	{StudyRootQRGet, "StudyRootQueryRetrieveInformationModelGet", false},
}

// LookupSOPClass returns a well-known SOP class by UID.
func LookupSOPClass(uid string) (SOPClass, bool) {
	uid = TrimUID(uid)
	for _, c := range sopClasses {
		if c.UID == uid {
			return c, true
		}
	}
	return SOPClass{}, false
}

// StorageSOPClasses returns the UIDs of the well-known storage SOP classes.
func StorageSOPClasses() []string {
	var out []string
	for _, c := range sopClasses {
		if c.Storage {
			out = append(out, c.UID)
		}
	}
	return out
}

// UIDName returns a readable name for a well-known transfer syntax or SOP
// class UID, or "" when it is not known.
func UIDName(uid string) string {
	if c, ok := LookupSOPClass(uid); ok {
		return c.Keyword
	}
	if ts, ok := LookupTransferSyntax(uid); ok {
		return ts.Name
	}
	return ""
}

// TrimUID removes the NUL or space padding that senders put after a UID.
func TrimUID(uid string) string {
	return strings.TrimRight(uid, "\x00 ")
}

// NewUID returns a fresh UID under the 2.25 root (a random 128-bit number,
// PS3.5 B.2).
func NewUID() string {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic("dicom: crypto/rand failed: " + err.Error())
	}
	return "2.25." + n.String()
}

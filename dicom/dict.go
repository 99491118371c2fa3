package dicom

// DictEntry describes one attribute of the data dictionary.
type DictEntry struct {
	Tag     Tag
	VR      VR // "" for items and delimiters, which have no VR
	Keyword string
}

// dictionary lists the attributes the gateway uses (PS3.6, PS3.7 command
// group, PS3.10 meta group). It is not the whole standard: unknown tags read
// from implicit VR data become UN.
var dictionary = []DictEntry{
	{Tag{0x0000, 0x0000}, UL, "CommandGroupLength"},
	{Tag{0x0000, 0x0002}, UI, "AffectedSOPClassUID"},
	{Tag{0x0000, 0x0003}, UI, "RequestedSOPClassUID"},
	{Tag{0x0000, 0x0100}, US, "CommandField"},
	{Tag{0x0000, 0x0110}, US, "MessageID"},
	{Tag{0x0000, 0x0120}, US, "MessageIDBeingRespondedTo"},
	{Tag{0x0000, 0x0600}, AE, "MoveDestination"},
	{Tag{0x0000, 0x0700}, US, "Priority"},
	{Tag{0x0000, 0x0800}, US, "CommandDataSetType"},
	{Tag{0x0000, 0x0900}, US, "Status"},
	{Tag{0x0000, 0x0901}, AT, "OffendingElement"},
	{Tag{0x0000, 0x0902}, LO, "ErrorComment"},
	{Tag{0x0000, 0x0903}, US, "ErrorID"},
	{Tag{0x0000, 0x1000}, UI, "AffectedSOPInstanceUID"},
	{Tag{0x0000, 0x1001}, UI, "RequestedSOPInstanceUID"},
	{Tag{0x0000, 0x1002}, US, "EventTypeID"},
	{Tag{0x0000, 0x1005}, AT, "AttributeIdentifierList"},
	{Tag{0x0000, 0x1008}, US, "ActionTypeID"},
	{Tag{0x0000, 0x1020}, US, "NumberOfRemainingSuboperations"},
	{Tag{0x0000, 0x1021}, US, "NumberOfCompletedSuboperations"},
	{Tag{0x0000, 0x1022}, US, "NumberOfFailedSuboperations"},
	{Tag{0x0000, 0x1023}, US, "NumberOfWarningSuboperations"},
	{Tag{0x0000, 0x1030}, AE, "MoveOriginatorApplicationEntityTitle"},
	{Tag{0x0000, 0x1031}, US, "MoveOriginatorMessageID"},
	{Tag{0x0002, 0x0000}, UL, "FileMetaInformationGroupLength"},
	{Tag{0x0002, 0x0001}, OB, "FileMetaInformationVersion"},
	{Tag{0x0002, 0x0002}, UI, "MediaStorageSOPClassUID"},
	{Tag{0x0002, 0x0003}, UI, "MediaStorageSOPInstanceUID"},
	{Tag{0x0002, 0x0010}, UI, "TransferSyntaxUID"},
	{Tag{0x0002, 0x0012}, UI, "ImplementationClassUID"},
	{Tag{0x0002, 0x0013}, SH, "ImplementationVersionName"},
	{Tag{0x0002, 0x0016}, AE, "SourceApplicationEntityTitle"},
	{Tag{0x0002, 0x0017}, AE, "SendingApplicationEntityTitle"},
	{Tag{0x0002, 0x0018}, AE, "ReceivingApplicationEntityTitle"},
	{Tag{0x0002, 0x0100}, UI, "PrivateInformationCreatorUID"},
	{Tag{0x0002, 0x0102}, OB, "PrivateInformation"},
	{Tag{0x0008, 0x0005}, CS, "SpecificCharacterSet"},
	{Tag{0x0008, 0x0008}, CS, "ImageType"},
	{Tag{0x0008, 0x0012}, DA, "InstanceCreationDate"},
	{Tag{0x0008, 0x0013}, TM, "InstanceCreationTime"},
	{Tag{0x0008, 0x0014}, UI, "InstanceCreatorUID"},
	{Tag{0x0008, 0x0016}, UI, "SOPClassUID"},
	{Tag{0x0008, 0x0018}, UI, "SOPInstanceUID"},
	{Tag{0x0008, 0x0020}, DA, "StudyDate"},
	{Tag{0x0008, 0x0021}, DA, "SeriesDate"},
	{Tag{0x0008, 0x0022}, DA, "AcquisitionDate"},
	{Tag{0x0008, 0x0023}, DA, "ContentDate"},
	{Tag{0x0008, 0x0030}, TM, "StudyTime"},
	{Tag{0x0008, 0x0031}, TM, "SeriesTime"},
	{Tag{0x0008, 0x0032}, TM, "AcquisitionTime"},
	{Tag{0x0008, 0x0033}, TM, "ContentTime"},
	{Tag{0x0008, 0x0050}, SH, "AccessionNumber"},
	{Tag{0x0008, 0x0052}, CS, "QueryRetrieveLevel"},
	{Tag{0x0008, 0x0054}, AE, "RetrieveAETitle"},
	{Tag{0x0008, 0x0056}, CS, "InstanceAvailability"},
	{Tag{0x0008, 0x0058}, UI, "FailedSOPInstanceUIDList"},
	{Tag{0x0008, 0x0060}, CS, "Modality"},
	{Tag{0x0008, 0x0061}, CS, "ModalitiesInStudy"},
	{Tag{0x0008, 0x0062}, UI, "SOPClassesInStudy"},
	{Tag{0x0008, 0x0064}, CS, "ConversionType"},
	{Tag{0x0008, 0x0070}, LO, "Manufacturer"},
	{Tag{0x0008, 0x0080}, LO, "InstitutionName"},
	{Tag{0x0008, 0x0090}, PN, "ReferringPhysicianName"},
	{Tag{0x0008, 0x0201}, SH, "TimezoneOffsetFromUTC"},
	{Tag{0x0008, 0x1010}, SH, "StationName"},
	{Tag{0x0008, 0x1030}, LO, "StudyDescription"},
	{Tag{0x0008, 0x103E}, LO, "SeriesDescription"},
	{Tag{0x0008, 0x1040}, LO, "InstitutionalDepartmentName"},
	{Tag{0x0008, 0x1090}, LO, "ManufacturerModelName"},
	{Tag{0x0008, 0x1110}, SQ, "ReferencedStudySequence"},
	{Tag{0x0008, 0x1115}, SQ, "ReferencedSeriesSequence"},
	{Tag{0x0008, 0x1140}, SQ, "ReferencedImageSequence"},
	{Tag{0x0008, 0x1150}, UI, "ReferencedSOPClassUID"},
	{Tag{0x0008, 0x1155}, UI, "ReferencedSOPInstanceUID"},
	{Tag{0x0008, 0x1198}, SQ, "FailedSOPSequence"},
	{Tag{0x0008, 0x1199}, SQ, "ReferencedSOPSequence"},
	{Tag{0x0008, 0x2111}, ST, "DerivationDescription"},
	{Tag{0x0010, 0x0010}, PN, "PatientName"},
	{Tag{0x0010, 0x0020}, LO, "PatientID"},
	{Tag{0x0010, 0x0021}, LO, "IssuerOfPatientID"},
	{Tag{0x0010, 0x0030}, DA, "PatientBirthDate"},
	{Tag{0x0010, 0x0040}, CS, "PatientSex"},
	{Tag{0x0010, 0x1000}, LO, "OtherPatientIDs"},
	{Tag{0x0010, 0x1001}, PN, "OtherPatientNames"},
	{Tag{0x0010, 0x1010}, AS, "PatientAge"},
	{Tag{0x0010, 0x1020}, DS, "PatientSize"},
	{Tag{0x0010, 0x1030}, DS, "PatientWeight"},
	{Tag{0x0010, 0x4000}, LT, "PatientComments"},
	{Tag{0x0018, 0x0010}, LO, "ContrastBolusAgent"},
	{Tag{0x0018, 0x0015}, CS, "BodyPartExamined"},
	{Tag{0x0018, 0x0050}, DS, "SliceThickness"},
	{Tag{0x0018, 0x0060}, DS, "KVP"},
	{Tag{0x0018, 0x1000}, LO, "DeviceSerialNumber"},
	{Tag{0x0018, 0x1020}, LO, "SoftwareVersions"},
	{Tag{0x0018, 0x1030}, LO, "ProtocolName"},
	{Tag{0x0018, 0x5100}, CS, "PatientPosition"},
	{Tag{0x0020, 0x000D}, UI, "StudyInstanceUID"},
	{Tag{0x0020, 0x000E}, UI, "SeriesInstanceUID"},
	{Tag{0x0020, 0x0010}, SH, "StudyID"},
	{Tag{0x0020, 0x0011}, IS, "SeriesNumber"},
	{Tag{0x0020, 0x0012}, IS, "AcquisitionNumber"},
	{Tag{0x0020, 0x0013}, IS, "InstanceNumber"},
	{Tag{0x0020, 0x0020}, CS, "PatientOrientation"},
	{Tag{0x0020, 0x0032}, DS, "ImagePositionPatient"},
	{Tag{0x0020, 0x0037}, DS, "ImageOrientationPatient"},
	{Tag{0x0020, 0x0052}, UI, "FrameOfReferenceUID"},
	{Tag{0x0020, 0x1002}, IS, "ImagesInAcquisition"},
	{Tag{0x0020, 0x1200}, IS, "NumberOfPatientRelatedStudies"},
	{Tag{0x0020, 0x1202}, IS, "NumberOfPatientRelatedSeries"},
	{Tag{0x0020, 0x1204}, IS, "NumberOfPatientRelatedInstances"},
	{Tag{0x0020, 0x1206}, IS, "NumberOfStudyRelatedSeries"},
	{Tag{0x0020, 0x1208}, IS, "NumberOfStudyRelatedInstances"},
	{Tag{0x0020, 0x1209}, IS, "NumberOfSeriesRelatedInstances"},
	{Tag{0x0020, 0x4000}, LT, "ImageComments"},
	{Tag{0x0028, 0x0002}, US, "SamplesPerPixel"},
	{Tag{0x0028, 0x0004}, CS, "PhotometricInterpretation"},
	{Tag{0x0028, 0x0006}, US, "PlanarConfiguration"},
	{Tag{0x0028, 0x0008}, IS, "NumberOfFrames"},
	{Tag{0x0028, 0x0009}, AT, "FrameIncrementPointer"},
	{Tag{0x0028, 0x0010}, US, "Rows"},
	{Tag{0x0028, 0x0011}, US, "Columns"},
	{Tag{0x0028, 0x0030}, DS, "PixelSpacing"},
	{Tag{0x0028, 0x0100}, US, "BitsAllocated"},
	{Tag{0x0028, 0x0101}, US, "BitsStored"},
	{Tag{0x0028, 0x0102}, US, "HighBit"},
	{Tag{0x0028, 0x0103}, US, "PixelRepresentation"},
	{Tag{0x0028, 0x1050}, DS, "WindowCenter"},
	{Tag{0x0028, 0x1051}, DS, "WindowWidth"},
	{Tag{0x0028, 0x1052}, DS, "RescaleIntercept"},
	{Tag{0x0028, 0x1053}, DS, "RescaleSlope"},
	{Tag{0x0028, 0x2110}, CS, "LossyImageCompression"},
	{Tag{0x0032, 0x1032}, PN, "RequestingPhysician"},
	{Tag{0x0032, 0x1060}, LO, "RequestedProcedureDescription"},
	{Tag{0x0040, 0x0244}, DA, "PerformedProcedureStepStartDate"},
	{Tag{0x0040, 0x0245}, TM, "PerformedProcedureStepStartTime"},
	{Tag{0x0040, 0x0253}, SH, "PerformedProcedureStepID"},
	{Tag{0x0040, 0x0275}, SQ, "RequestAttributesSequence"},
	{Tag{0x0088, 0x0130}, SH, "StorageMediaFileSetID"},
	{Tag{0x0088, 0x0140}, UI, "StorageMediaFileSetUID"},
	{Tag{0x7FE0, 0x0008}, OF, "FloatPixelData"},
	{Tag{0x7FE0, 0x0009}, OD, "DoubleFloatPixelData"},
	{Tag{0x7FE0, 0x0010}, OW, "PixelData"},
	{Tag{0xFFFA, 0xFFFA}, SQ, "DigitalSignaturesSequence"},
	{Tag{0xFFFC, 0xFFFC}, OB, "DataSetTrailingPadding"},
	{Tag{0xFFFE, 0xE000}, "", "Item"},
	{Tag{0xFFFE, 0xE00D}, "", "ItemDelimitationItem"},
	{Tag{0xFFFE, 0xE0DD}, "", "SequenceDelimitationItem"},
}

var (
	byTag     = make(map[Tag]DictEntry, len(dictionary))
	byKeyword = make(map[string]DictEntry, len(dictionary))
)

func init() {
	for _, e := range dictionary {
		byTag[e.Tag] = e
		byKeyword[e.Keyword] = e
	}
}

// LookupTag returns the dictionary entry for t. Group length elements
// (gggg,0000) and private creator elements (gggg,00xx in odd groups) are
// recognised generically.
func LookupTag(t Tag) (DictEntry, bool) {
	if e, ok := byTag[t]; ok {
		return e, true
	}
	switch {
	case t.Element == 0:
		return DictEntry{Tag: t, VR: UL, Keyword: "GenericGroupLength"}, true
	case t.IsPrivate() && t.Element >= 0x10 && t.Element <= 0xFF:
		return DictEntry{Tag: t, VR: LO, Keyword: "PrivateCreator"}, true
	}
	return DictEntry{}, false
}

// LookupKeyword returns the dictionary entry for a keyword such as
// "StudyInstanceUID".
func LookupKeyword(keyword string) (DictEntry, bool) {
	e, ok := byKeyword[keyword]
	return e, ok
}

// Keyword returns the keyword of t, or "" when t is not in the dictionary.
func Keyword(t Tag) string {
	e, _ := LookupTag(t)
	return e.Keyword
}

// dictVR returns the VR implied by the dictionary for implicit VR data:
// UN when the tag is unknown, OW for pixel data.
func dictVR(t Tag) VR {
	if e, ok := LookupTag(t); ok && e.VR != "" {
		return e.VR
	}
	return UN
}

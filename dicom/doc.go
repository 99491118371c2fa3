// Package dicom reads and writes DICOM data sets and Part 10 files.
//
// It is medrelay's own toolkit (no third-party DICOM library is used) and is
// built for a store-and-forward gateway: it parses the attributes needed to
// index an instance and stops before the pixel data, so the rest of a file of
// any size can be copied without being decoded or held in memory.
//
// Supported encodings: Implicit VR Little Endian, Explicit VR Little Endian
// (and every encapsulated syntax built on it), Deflated Explicit VR Little
// Endian, and Explicit VR Big Endian for reading. Undefined lengths,
// sequences, items, undefined-length UN (read as an implicit VR sequence) and
// encapsulated pixel data (fragments) are handled.
//
// Values are kept as the bytes that were read: text is never re-encoded, so a
// GB18030 or UTF-8 name passes through unchanged. Binary values read from a
// big-endian data set are swapped to little endian on read.
//
// The package does not decode pixel data, transcode between transfer
// syntaxes, or interpret character sets. Networking lives in the ul and
// dimse subpackages.
package dicom

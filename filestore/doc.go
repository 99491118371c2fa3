// Package filestore defines how medrelay keeps files outside envelopes.
//
// A DICOM study or any other attachment never rides inside an envelope:
// it is written to a Store (object storage or a directory owned by a
// relay) and the envelope carries a Ref with the object's size and
// SHA-256. The receiver verifies that digest; a mismatch is an error that
// names the file.
//
// This package holds the Store contract that every backend implements
// (see the s3 and local subpackages), the reference and metadata types,
// key validation, integrity helpers and garbage collection. It does not
// speak HTTP (see filehttp) and it does not move local files in parts
// (see transfer).
package filestore

// Package interop holds the interoperability tests and benchmarks of the
// DICOM networking code against dcmtk: they build the dicomgw binary and
// run it beside echoscu, storescu, storescp, findscu, movescu and dcmqrscp
// on loopback ports. It has no code of its own.
//
// Run the tests with `go test ./dicom/interop`; the benchmarks with
//
//	go test -run XXX -bench . -benchtime 1x ./dicom/interop
//
// A missing dcmtk tool skips a test, or fails it under CI (internal/testenv).
package interop

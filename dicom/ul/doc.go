// Package ul implements the DICOM upper layer (PS3.8): the PDUs, association
// negotiation, the association state machine with release collision and the
// ARTIM timer, and the fragmentation of messages into presentation data
// values.
//
// An Assoc is one association over one TCP connection. Dial opens it as a
// requestor, Accept answers a request as an acceptor. Once established, a
// single goroutine reads messages (ReadCommand, then DataReader for the data
// set that follows), and any goroutine may write them (WriteMessage).
// Release ends an association in order, Abort ends it at once.
//
// The package knows nothing about DIMSE command fields or data sets; see
// package dimse for those. It never logs: every failure is returned.
package ul

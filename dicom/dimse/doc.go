// Package dimse implements the DICOM message service element (PS3.7) on top
// of the upper layer in package ul: command sets, the C-ECHO, C-STORE,
// C-FIND and C-MOVE services as a requestor (Client) and the C-ECHO and
// C-STORE services as an acceptor (Server).
//
// Command sets are always Implicit VR Little Endian with a (0000,0000)
// group length; data sets are carried as bytes in their negotiated transfer
// syntax and streamed, never held whole in memory. The package does not
// decode data sets itself except for C-FIND identifiers.
package dimse

// Package medrelayv1 is the Go code generated from envelope.proto and
// link.proto: the command envelope that applications exchange, and the
// frames of a link between an application or child relay and its relay.
// Edit the .proto files and run `make proto`; never edit *.pb.go.
package medrelayv1

// Package worklist is the gateway's consultation worklist: DICOM Unified
// Procedure Step (UPS, PS3.4 Annex CC) workitems and their subscriptions,
// served as UPS-RS (PS3.18 chapter 11) under /dicom-web with a WebSocket
// notification channel.
//
// Guarantees:
//   - Every change (workitem, subscription, queued event) is committed to
//     its own bbolt file, with fsync, before the request is answered.
//   - The state machine is SCHEDULED → IN PROGRESS → COMPLETED | CANCELED;
//     the first claim commits and every later one fails (409); only the
//     holder of the Transaction UID given at the claim updates or finishes.
//   - A global subscription becomes a per-workitem subscription for every
//     existing workitem and for each one created later; a filtered global
//     one only for workitems that match its keys, at creation and when an
//     update makes them match.
//   - Events are numbered per subscriber and kept until the subscriber
//     has them (a WebSocket pong after them, or the relay's acknowledgement
//     of the envelope), so a subscriber that was away receives what it
//     missed, in order, before new events. Undelivered events older
//     than the retention are dropped and counted; the subscriber is told
//     how many on its next connection.
//
// Applications elsewhere in the relay tree subscribe with ups.subscribe
// envelopes and receive ups.event envelopes (relay.go). It does not (yet)
// speak DIMSE (N-* services); see docs/worklist.md.
package worklist

// Package adminapi holds the JSON documents of a relay's admin API
// (/v1/status, /v1/deadletters, /v1/audit, /v1/audit/verify), so that
// medrelayctl, tests and other tools decode them without linking the
// relay. It has no behaviour beyond encoding.
package adminapi

import "time"

// Status is what /v1/status serves and medrelayctl status shows.
type Status struct {
	ID          string         `json:"id"`
	Role        string         `json:"role"`
	Version     string         `json:"version"`
	Parent      *ParentLink    `json:"parent,omitempty"`
	Children    []ChildStatus  `json:"children"`
	Clients     []ClientStatus `json:"clients"`
	Queues      map[string]int `json:"queues"`
	DeadLetters int            `json:"dead_letters"`
	// Connections is how many TCP, QUIC and HTTP connections are open
	// (limits.max_connections bounds them).
	Connections int    `json:"connections"`
	Commits     uint64 `json:"commits"`
	CommitLast  string `json:"commit_latency_last"`
	// CommitAvg is the mean commit time since start, and CommitGroup the
	// mean number of submissions each commit served.
	CommitAvg   string  `json:"commit_latency_avg"`
	CommitGroup float64 `json:"commit_group_avg"`
	// Journal is "ok", or why the intake journal stopped; JournalBatches
	// counts client batches it acknowledged, and JournalBypassed those
	// stored without it (it was full, or the batch too large).
	Journal         string `json:"intake_journal"`
	JournalBatches  uint64 `json:"journal_batches"`
	JournalBypassed uint64 `json:"journal_bypassed"`
	// JournalUnapplied counts acknowledged client batches waiting for the
	// store, which failed to write them; StoreError is why the last
	// commit failed, "" once one succeeds.
	JournalUnapplied int    `json:"journal_unapplied"`
	StoreError       string `json:"store_error,omitempty"`
}

// ChildStatus describes a child relay.
type ChildStatus struct {
	ID        string    `json:"id"`
	Connected bool      `json:"connected"`
	Transport string    `json:"transport,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Subtree   []string  `json:"subtree"`
}

// ClientStatus describes a local client.
type ClientStatus struct {
	ID        string `json:"id"`
	Receivers int    `json:"receivers"`
	Senders   int    `json:"senders"`
	// Transports of the client's connected links, like ["http", "tcp"].
	Transports []string `json:"transports"`
}

// ParentLink describes a node's link to its parent.
type ParentLink struct {
	State     string    `json:"state"` // connecting | connected
	URL       string    `json:"url"`
	Parent    string    `json:"parent,omitempty"`
	Transport string    `json:"transport,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"`
	Attempts  int       `json:"attempts"`
}

// DeadLetter is a dead letter as /v1/deadletters lists it.
type DeadLetter struct {
	Seq    uint64    `json:"seq"`
	Queue  string    `json:"queue"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	ID     string    `json:"id"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	// Command is the envelope's command (never its arguments or body,
	// which may hold patient data).
	Command string `json:"command"`
}

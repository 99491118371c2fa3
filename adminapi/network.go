package adminapi

import "time"

// Network is a relay's view of the tree at and below it, as GET
// /v1/network serves it and GET /v1/events streams it (the web console's
// Network and Queues pages draw it).
type Network struct {
	At     time.Time   `json:"at"`
	ID     string      `json:"id"`
	Role   string      `json:"role"`
	Parent *ParentLink `json:"parent,omitempty"`
	// ParentAckMs is how long the parent took to acknowledge the last
	// batch sent up (the round trip plus its durable store), measured at
	// ParentAckAt; 0 before anything was sent.
	ParentAckMs float64        `json:"parent_ack_ms,omitempty"`
	ParentAckAt time.Time      `json:"parent_ack_at,omitzero"`
	Relays      []NetworkRelay `json:"relays"`
	Queues      []QueueInfo    `json:"queues"`
	// Clients are this relay's local clients.
	Clients     []ClientStatus `json:"clients"`
	DeadLetters int            `json:"dead_letters"`
}

// Relay states in a Network.
const (
	RelaySelf        = "self"        // the relay answering
	RelayUp          = "up"          // a child whose link is up
	RelayDown        = "down"        // a child whose link is down
	RelayReported    = "reported"    // below a child that is up: that child knows its state
	RelayUnreachable = "unreachable" // below a child that is down
)

// NetworkRelay is one relay of a Network.
type NetworkRelay struct {
	ID string `json:"id"`
	// Via is the child of the answering relay through which this relay
	// is reached ("" for the answering relay and its children's own id
	// for a child).
	Via   string `json:"via,omitempty"`
	State string `json:"state"`
	// Transport is the link's transport, for a child that is up.
	Transport string `json:"transport,omitempty"`
	// Since is when a child's link came up, or went down (for a child
	// that has not linked since this relay started: when it started).
	Since time.Time `json:"since,omitzero"`
	// Queue is the queue at the answering relay toward this relay, with
	// its depth and oldest envelope (for children).
	Queue  string    `json:"queue,omitempty"`
	Depth  int       `json:"depth"`
	Oldest time.Time `json:"oldest,omitzero"`
	// Clients counts local clients (for the answering relay).
	Clients int `json:"clients"`
	// In and Out count the envelopes stored in and removed from Queue
	// since the answering relay started (for itself: in all its queues,
	// local inboxes included). Two snapshots give envelopes/s.
	In  uint64 `json:"in"`
	Out uint64 `json:"out"`
	// AckMs is how long a child took to acknowledge the last batch sent
	// to it (the round trip plus its durable store), measured at AckAt;
	// 0 before anything was sent.
	AckMs float64   `json:"ack_ms,omitempty"`
	AckAt time.Time `json:"ack_at,omitzero"`
}

// QueueInfo is one queue of a relay.
type QueueInfo struct {
	Name  string `json:"name"`
	Depth int    `json:"depth"`
	// Oldest is when the oldest queued envelope was made (by its id).
	Oldest time.Time `json:"oldest,omitzero"`
	// In and Out count the envelopes stored in and removed from the queue
	// since the relay started.
	In  uint64 `json:"in"`
	Out uint64 `json:"out"`
}

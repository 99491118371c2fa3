package relay

import "strings"

// Queue names one queue in the relay's store: where envelopes wait for
// the next hop. The names are what /v1/status, /metrics and dead letters
// show, so they stay as they are: "parent", "child/<relay id>",
// "client/<client id>".
type Queue string

// parentQueue holds what goes up to the parent.
const parentQueue Queue = "parent"

// inboundQueue is no queue: it is the one a dead letter names when it was
// refused on arrival, before it reached one.
const inboundQueue Queue = "inbound"

// childQueue holds what goes down the link to child relay id.
func childQueue(id string) Queue { return Queue("child/" + id) }

// clientQueue is the inbox of local client id.
func clientQueue(id string) Queue { return Queue("client/" + id) }

// isClient reports whether q is a local client's inbox.
func (q Queue) isClient() bool { return strings.HasPrefix(string(q), "client/") }

package dimse

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// Query is a C-FIND or C-MOVE request.
type Query struct {
	SOPClassUID string // information model, e.g. StudyRootFind
	// Identifier is the query data set encoded in the transfer syntax the
	// peer accepted for SOPClassUID (see Client.TransferSyntax).
	Identifier  []byte
	Destination string // C-MOVE only: the AE title to send to
	Priority    uint16
}

// cancelOnDone sends C-CANCEL for msgID when ctx ends before stop is called.
func (c *Client) cancelOnDone(ctx context.Context, pcID byte, msgID uint16) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	s := context.AfterFunc(ctx, func() {
		defer wg.Done()
		rq := &Command{CommandField: CCancelRQ, MessageIDBeingRespondedTo: msgID}
		_ = c.a.WriteMessage(pcID, rq.Encode(), nil, 0)
	})
	return func() {
		if s() {
			wg.Done()
		}
		wg.Wait()
	}
}

// Find sends a C-FIND request and calls fn with each matching identifier
// (in the accepted transfer syntax) as the pending responses arrive. When
// ctx ends it sends C-CANCEL and returns ctx's error once the peer has
// answered. A failure status is returned as *StatusError.
func (c *Client) Find(ctx context.Context, q Query, fn func(identifier []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.a.FindContext(q.SOPClassUID)
	if !ok {
		return fmt.Errorf("find: %w for %s", ErrNoContext, q.SOPClassUID)
	}
	id := c.messageID()
	rq := &Command{AffectedSOPClassUID: q.SOPClassUID, CommandField: CFindRQ, MessageID: id,
		Priority: q.Priority, HasDataSet: true}
	if err := c.a.WriteMessage(pc.ID, rq.Encode(), bytes.NewReader(q.Identifier), int64(len(q.Identifier))); err != nil {
		return fmt.Errorf("find: %w", err)
	}
	stop := c.cancelOnDone(ctx, pc.ID, id)
	defer stop()
	var fnErr error
	for {
		rsp, data, err := c.readResponse(id, fnErr == nil)
		if err != nil {
			return fmt.Errorf("find: %w", err)
		}
		switch rsp.Status.Category() {
		case Pending:
			if fnErr == nil && data != nil {
				fnErr = fn(data)
			}
			continue
		case Success:
			return fnErr
		case Cancel:
			if ctx.Err() != nil {
				return fmt.Errorf("find: %w", ctx.Err())
			}
		}
		return &StatusError{Op: "find", Status: rsp.Status, Comment: rsp.ErrorComment}
	}
}

// Counters are C-MOVE sub-operation counters; -1 means the peer did not
// send that counter.
type Counters struct {
	Remaining, Completed, Failed, Warning int
}

func counters(c *Command) Counters {
	get := func(p *uint16) int {
		if p == nil {
			return -1
		}
		return int(*p)
	}
	return Counters{get(c.Remaining), get(c.Completed), get(c.Failed), get(c.Warning)}
}

// MoveResult is the final response of a C-MOVE.
type MoveResult struct {
	Status   Status
	Comment  string
	Counters Counters
}

// OK reports full success: a success status and no failed or warning
// sub-operation reported.
func (r MoveResult) OK() bool {
	return r.Status == StatusSuccess && r.Counters.Failed <= 0 && r.Counters.Warning <= 0
}

// Move sends a C-MOVE request and calls progress with the counters of each
// response, pending and final. When ctx ends it sends C-CANCEL and waits
// for the peer's final response. A non-success final status is not an
// error: it is in the result.
func (c *Client) Move(ctx context.Context, q Query, progress func(Counters)) (MoveResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.a.FindContext(q.SOPClassUID)
	if !ok {
		return MoveResult{}, fmt.Errorf("move: %w for %s", ErrNoContext, q.SOPClassUID)
	}
	id := c.messageID()
	rq := &Command{AffectedSOPClassUID: q.SOPClassUID, CommandField: CMoveRQ, MessageID: id,
		Priority: q.Priority, HasDataSet: true, MoveDestination: q.Destination}
	if err := c.a.WriteMessage(pc.ID, rq.Encode(), bytes.NewReader(q.Identifier), int64(len(q.Identifier))); err != nil {
		return MoveResult{}, fmt.Errorf("move: %w", err)
	}
	stop := c.cancelOnDone(ctx, pc.ID, id)
	defer stop()
	for {
		rsp, _, err := c.readResponse(id, false)
		if err != nil {
			return MoveResult{}, fmt.Errorf("move: %w", err)
		}
		cnt := counters(rsp)
		if progress != nil {
			progress(cnt)
		}
		if rsp.Status.Category() != Pending {
			return MoveResult{Status: rsp.Status, Comment: rsp.ErrorComment, Counters: cnt}, nil
		}
	}
}

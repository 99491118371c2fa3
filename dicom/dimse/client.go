package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/ul"
)

// MaxIdentifierLength bounds a C-FIND or C-MOVE response data set held in
// memory.
const MaxIdentifierLength = 16 << 20

// ErrNoContext is returned when no accepted presentation context fits.
var ErrNoContext = errors.New("no accepted presentation context")

// Client issues DIMSE requests over one association, one at a time.
type Client struct {
	a      *ul.Assoc
	mu     sync.Mutex // one operation at a time
	nextID uint16
}

// NewClient wraps an established association.
func NewClient(a *ul.Assoc) *Client { return &Client{a: a} }

// Dial opens an association and wraps it in a Client.
func Dial(ctx context.Context, addr string, req ul.Request, opts *ul.Options) (*Client, error) {
	a, err := ul.Dial(ctx, addr, req, opts)
	if err != nil {
		return nil, err
	}
	return NewClient(a), nil
}

// Assoc returns the underlying association.
func (c *Client) Assoc() *ul.Assoc { return c.a }

// Close releases the association.
func (c *Client) Close() error { return c.a.Close() }

// TransferSyntax returns the transfer syntax accepted for a SOP class.
func (c *Client) TransferSyntax(sopClass string) (string, bool) {
	pc, ok := c.a.FindContext(sopClass)
	if !ok {
		return "", false
	}
	return pc.TransferSyntaxes[0], true
}

func (c *Client) messageID() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// abortOnCancel aborts the association when ctx ends before stop is called.
func (c *Client) abortOnCancel(ctx context.Context) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	s := context.AfterFunc(ctx, func() { defer wg.Done(); c.a.Abort() })
	return func() {
		if s() {
			wg.Done()
		}
		wg.Wait()
	}
}

// readResponse reads the next response for msgID. When it carries a data
// set, the set is read whole (bounded) if keep is true, else discarded.
func (c *Client) readResponse(msgID uint16, keep bool) (*Command, []byte, error) {
	id, raw, err := c.a.ReadCommand()
	if err != nil {
		return nil, nil, err
	}
	cmd, err := DecodeCommand(raw)
	if err != nil {
		c.a.Abort()
		return nil, nil, err
	}
	if !cmd.IsResponse() || cmd.MessageIDBeingRespondedTo != msgID {
		c.a.Abort()
		return nil, nil, fmt.Errorf("unexpected command %#04x for message %d", cmd.CommandField, cmd.MessageIDBeingRespondedTo)
	}
	if !cmd.HasDataSet {
		return cmd, nil, nil
	}
	r := c.a.DataReader(id)
	if !keep {
		_, err = io.Copy(io.Discard, r)
		return cmd, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxIdentifierLength+1))
	if err == nil && len(data) > MaxIdentifierLength {
		c.a.Abort()
		err = fmt.Errorf("response data set longer than %d bytes", MaxIdentifierLength)
	}
	return cmd, data, err
}

// Echo sends a C-ECHO request and waits for its response.
func (c *Client) Echo(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.a.FindContext(Verification)
	if !ok {
		return fmt.Errorf("echo: %w for verification", ErrNoContext)
	}
	defer c.abortOnCancel(ctx)()
	id := c.messageID()
	rq := &Command{AffectedSOPClassUID: Verification, CommandField: CEchoRQ, MessageID: id}
	if err := c.a.WriteMessage(pc.ID, rq.Encode(), nil, 0); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	rsp, _, err := c.readResponse(id, false)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if rsp.Status != StatusSuccess {
		return &StatusError{Op: "echo", Status: rsp.Status, Comment: rsp.ErrorComment}
	}
	return nil
}

// StoreRequest is one instance to send with C-STORE.
type StoreRequest struct {
	SOPClassUID    string
	SOPInstanceUID string
	// TransferSyntax is the syntax Data is encoded in. A context accepted
	// with it is used when there is one; otherwise implicit and explicit
	// VR little endian data is transcoded to the other of the two if the
	// peer accepted that (see dicom.Transcode). Compressed data is never
	// transcoded.
	TransferSyntax string
	Data           io.Reader // the data set, without preamble and meta group
	Size           int64     // bytes in Data
	Priority       uint16
}

// Store sends one instance and returns the peer's status. A failure or
// warning status is not an error; an error means the association failed.
func (c *Client) Store(ctx context.Context, req StoreRequest) (*Command, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.storeContext(req.SOPClassUID, req.TransferSyntax)
	if !ok {
		return nil, fmt.Errorf("store %s: %w for %s in %s", req.SOPInstanceUID, ErrNoContext, req.SOPClassUID, req.TransferSyntax)
	}
	defer c.abortOnCancel(ctx)()
	id := c.messageID()
	rq := &Command{
		AffectedSOPClassUID: req.SOPClassUID, CommandField: CStoreRQ, MessageID: id,
		Priority: req.Priority, HasDataSet: true, AffectedSOPInstanceUID: req.SOPInstanceUID,
	}
	if err := c.writeStore(pc, rq, req); err != nil {
		c.a.Abort() // the peer may hold part of a data set
		return nil, fmt.Errorf("store %s: %w", req.SOPInstanceUID, err)
	}
	rsp, _, err := c.readResponse(id, false)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", req.SOPInstanceUID, err)
	}
	return rsp, nil
}

// storeContext finds an accepted context for a SOP class in the data's
// own transfer syntax or, for uncompressed little endian data, in the one
// it can be transcoded to.
func (c *Client) storeContext(sopClass, ts string) (ul.PresentationContext, bool) {
	if pc, ok := c.a.FindContext(sopClass, ts); ok {
		return pc, true
	}
	for _, alt := range []string{dicom.ExplicitVRLittleEndian, dicom.ImplicitVRLittleEndian} {
		if alt != ts && dicom.CanTranscode(ts, alt) {
			if pc, ok := c.a.FindContext(sopClass, alt); ok {
				return pc, true
			}
		}
	}
	return ul.PresentationContext{}, false
}

// writeStore sends the request and its data set, transcoding on the fly
// when the context's syntax is not the data's: a goroutine re-encodes into
// a pipe that the association reads, so the instance is never held whole.
func (c *Client) writeStore(pc ul.PresentationContext, rq *Command, req StoreRequest) error {
	ts := pc.TransferSyntaxes[0]
	if ts == req.TransferSyntax {
		return c.a.WriteMessage(pc.ID, rq.Encode(), req.Data, req.Size)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := dicom.Transcode(pw, io.LimitReader(req.Data, req.Size), req.TransferSyntax, ts)
		pw.CloseWithError(err)
		done <- err
	}()
	err := c.a.WriteMessage(pc.ID, rq.Encode(), pr, -1)
	pr.CloseWithError(errors.New("store: sending ended")) // unblocks the transcoder
	if terr := <-done; terr != nil && err == nil {
		err = terr
	}
	return err
}

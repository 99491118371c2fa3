package dimse

import (
	"fmt"
	"io"

	"github.com/medrelay/medrelay/dicom/ul"
)

// serveAssoc answers requests until the peer releases or aborts.
func (s *Server) serveAssoc(a *ul.Assoc, id uint64) error {
	for {
		pcID, raw, err := a.ReadCommand()
		if err != nil {
			return err
		}
		cmd, err := DecodeCommand(raw)
		if err != nil {
			a.Abort()
			return err
		}
		if err := s.dispatch(a, pcID, cmd, id); err != nil {
			return err
		}
	}
}

func (s *Server) dispatch(a *ul.Assoc, pcID byte, cmd *Command, id uint64) error {
	switch cmd.CommandField {
	case CEchoRQ:
		return s.respond(a, pcID, cmd, CEchoRSP, StatusSuccess, "")
	case CStoreRQ:
		return s.store(a, pcID, cmd, id)
	case CCancelRQ:
		return nil // nothing of ours is cancellable
	}
	if cmd.HasDataSet {
		if _, err := io.Copy(io.Discard, a.DataReader(pcID)); err != nil {
			return err
		}
	}
	if cmd.IsResponse() {
		return nil
	}
	return s.respond(a, pcID, cmd, cmd.CommandField|0x8000, 0x0211, "unrecognized operation")
}

func (s *Server) respond(a *ul.Assoc, pcID byte, rq *Command, field uint16, st Status, comment string) error {
	rsp := &Command{
		AffectedSOPClassUID:       rq.AffectedSOPClassUID,
		CommandField:              field,
		MessageIDBeingRespondedTo: rq.MessageID,
		Status:                    st,
		ErrorComment:              comment,
		AffectedSOPInstanceUID:    rq.AffectedSOPInstanceUID,
	}
	if err := a.WriteMessage(pcID, rsp.Encode(), nil, 0); err != nil {
		return fmt.Errorf("send response: %w", err)
	}
	return nil
}

func (s *Server) store(a *ul.Assoc, pcID byte, cmd *Command, id uint64) error {
	pc, _ := a.Context(pcID)
	if !cmd.HasDataSet {
		return s.respond(a, pcID, cmd, CStoreRSP, StatusCannotUnderstand, "C-STORE without a data set")
	}
	data := a.DataReader(pcID)
	if s.opts.Store == nil || cmd.AffectedSOPClassUID != pc.AbstractSyntax {
		if _, err := io.Copy(io.Discard, data); err != nil {
			return err
		}
		return s.respond(a, pcID, cmd, CStoreRSP, StatusSOPClassNotSupported, "SOP class does not match the presentation context")
	}
	in := &IncomingStore{
		CallingAE:        a.Request().CallingAE,
		CalledAE:         a.Request().CalledAE,
		SOPClassUID:      cmd.AffectedSOPClassUID,
		SOPInstanceUID:   cmd.AffectedSOPInstanceUID,
		TransferSyntax:   pc.TransferSyntaxes[0],
		MoveOriginatorAE: cmd.MoveOriginatorAE,
		AssocID:          id,
	}
	st, err := s.opts.Store.Store(s.ctx, in, data)
	s.emit(Event{Remote: a.RemoteAddr().String(), CallingAE: in.CallingAE, Store: in, Status: st, Err: err})
	if _, derr := io.Copy(io.Discard, data); derr != nil {
		return derr // the association failed under the handler
	}
	return s.respond(a, pcID, cmd, CStoreRSP, st, errComment(err))
}

func errComment(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

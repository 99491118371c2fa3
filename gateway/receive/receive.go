// Package receive is the gateway's C-STORE SCP handler: it streams each
// instance to a staged Part 10 file (a generated meta group and the data
// set bytes exactly as received), computing its SHA-256 on the way and
// parsing only the index attributes (study, series and SOP instance UIDs,
// SOP class, modality), fsyncs the file and its folder, and records it in
// the job database before the success status is answered. An instance is
// never held in memory.
//
// A data set that cannot be parsed up to its index attributes, or whose
// SOP instance UID differs from the command's, is refused with a failure
// status and leaves nothing behind: it never reaches a manifest.
package receive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/gateway/store"
)

// writeBufferSize is the write buffer per instance being received.
const writeBufferSize = 256 << 10

// modalityTag is (0008,0060) Modality.
var modalityTag = dicom.Tag{Group: 0x0008, Element: 0x0060}

// Target is where a received instance goes: a route's remote gateway.
type Target struct {
	Peer              string // relay/client of the remote gateway
	Destination       string // AE title there ("" = its default)
	CompleteOnRelease bool
	Pull              bool // the instance answers our own C-MOVE
}

// RouteFunc picks the target of an instance; false refuses it.
type RouteFunc func(in *dimse.IncomingStore, study, modality string) (Target, bool)

// Options configure a Receiver.
type Options struct {
	Dir    string       // where staged files go (created)
	Store  *store.Store // the job database
	Route  RouteFunc
	Logger *slog.Logger
	// OnStored is called after each instance is recorded (to wake the
	// sender). Default: nothing.
	OnStored func()
	// NoSync skips fsync (tests only).
	NoSync bool
}

// Receiver implements dimse.StoreHandler.
type Receiver struct {
	opts   Options
	bufs   sync.Pool
	spares spares

	mu     sync.Mutex
	assocs map[uint64]map[string]bool // association → transfer keys it fed
}

var _ dimse.StoreHandler = (*Receiver)(nil)

// New prepares the staging folder.
func New(opts Options) (*Receiver, error) {
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("prepare staging folder: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{opts: opts, assocs: map[uint64]map[string]bool{}, spares: spares{dir: opts.Dir, noSync: opts.NoSync}}
	r.bufs.New = func() any { return bufio.NewWriterSize(nil, writeBufferSize) }
	if err := r.sweep(); err != nil {
		return nil, err
	}
	return r, nil
}

// sweep removes the staged files that no record names.
func (r *Receiver) sweep() error {
	used := map[string]bool{}
	err := r.opts.Store.View(func(tx *store.Tx) error {
		return tx.Transfers(func(tr *store.Transfer) error {
			if tr.Side != store.Outgoing {
				return nil
			}
			return tx.Instances(tr, func(in *store.Instance) error {
				used[in.Path] = true
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("read staged instances: %w", err)
	}
	n, err := sweep(r.opts.Dir, func(p string) bool { return used[p] })
	if n > 0 {
		r.opts.Logger.Info("removed staged files no record names", "step", "receive", "files", n)
	}
	return err
}

// Close removes the files created ahead of need.
func (r *Receiver) Close() { r.spares.close() }

// staged is an instance on disk, as received.
type staged struct {
	path                      string
	study, series, sop, class string
	modality, ts              string
	size                      int64
	sha                       string
}

// Store implements dimse.StoreHandler.
func (r *Receiver) Store(ctx context.Context, in *dimse.IncomingStore, data io.Reader) (dimse.Status, error) {
	log := r.opts.Logger.With("step", "receive", "instance", in.SOPInstanceUID, "calling_aet", in.CallingAE)
	if !SafeUID(in.SOPInstanceUID) || !SafeUID(in.SOPClassUID) {
		log.Warn("instance refused: invalid SOP class or instance UID")
		return dimse.StatusCannotUnderstand, fmt.Errorf("invalid SOP class or instance UID")
	}
	st, status, err := r.stage(in, data)
	if err != nil {
		log.Warn("instance refused", "study", st.study, "status", fmt.Sprintf("%04X", uint16(status)), "err", err)
		return status, err
	}
	tgt, ok := r.opts.Route(in, st.study, st.modality)
	if !ok {
		os.Remove(st.path)
		log.Warn("instance refused: no route", "study", st.study, "called_aet", in.CalledAE)
		return dimse.StatusProcessingFailure, fmt.Errorf("no route for called AE %s", in.CalledAE)
	}
	old, key, err := r.record(st, tgt)
	if err != nil {
		os.Remove(st.path)
		log.Error("instance not recorded", "study", st.study, "err", err)
		return dimse.StatusOutOfResources, fmt.Errorf("record: %w", err)
	}
	if old != "" {
		os.Remove(old)
	}
	r.mu.Lock()
	if r.assocs[in.AssocID] == nil {
		r.assocs[in.AssocID] = map[string]bool{}
	}
	r.assocs[in.AssocID][key] = true
	r.mu.Unlock()
	if r.opts.OnStored != nil {
		r.opts.OnStored()
	}
	return dimse.StatusSuccess, nil
}

// stage writes the instance to a spare file (its name already durable),
// parsing its index attributes from the bytes on their way, and syncs it.
func (r *Receiver) stage(in *dimse.IncomingStore, data io.Reader) (staged, dimse.Status, error) {
	st := staged{sop: in.SOPInstanceUID, class: in.SOPClassUID, ts: in.TransferSyntax}
	f, err := r.spares.take()
	if err != nil {
		return st, dimse.StatusOutOfResources, err
	}
	st.path = f.Name()
	status, err := r.write(f, in, data, &st)
	if cerr := f.Close(); err == nil && cerr != nil {
		status, err = dimse.StatusOutOfResources, cerr
	}
	if err != nil {
		os.Remove(st.path)
	}
	return st, status, err
}

func (r *Receiver) write(f *os.File, in *dimse.IncomingStore, data io.Reader, st *staged) (dimse.Status, error) {
	h := sha256.New()
	bw := r.bufs.Get().(*bufio.Writer)
	defer r.bufs.Put(bw)
	cw := &countWriter{w: io.MultiWriter(f, h)}
	bw.Reset(cw)
	defer bw.Reset(nil)
	meta := dicom.FileMeta{MediaStorageSOPClassUID: in.SOPClassUID, MediaStorageSOPInstanceUID: in.SOPInstanceUID, TransferSyntaxUID: in.TransferSyntax}
	if err := dicom.WriteFileHeader(bw, meta); err != nil {
		return dimse.StatusOutOfResources, err
	}
	src := &readErr{r: data}
	ds, perr := dicom.ReadIndex(io.TeeReader(src, bw), in.TransferSyntax,
		dicom.StudyInstanceUIDTag, dicom.SeriesInstanceUIDTag, dicom.SOPInstanceUIDTag, dicom.SOPClassUIDTag, modalityTag)
	if src.err != nil {
		return dimse.StatusOutOfResources, fmt.Errorf("receive: %w", src.err)
	}
	if perr != nil {
		return dimse.StatusCannotUnderstand, fmt.Errorf("data set cannot be parsed: %w", perr)
	}
	st.study = dicom.TrimUID(ds.String(dicom.StudyInstanceUIDTag))
	st.series = dicom.TrimUID(ds.String(dicom.SeriesInstanceUIDTag))
	st.modality = strings.TrimSpace(ds.String(modalityTag))
	sop := dicom.TrimUID(ds.String(dicom.SOPInstanceUIDTag))
	if sop == "" {
		return dimse.StatusCannotUnderstand, errors.New("data set has no SOPInstanceUID (0008,0018)")
	}
	if sop != in.SOPInstanceUID {
		return dimse.StatusDataSetMismatch, fmt.Errorf("data set SOP instance UID %q differs from the command's", sop)
	}
	if !SafeUID(st.study) {
		return dimse.StatusCannotUnderstand, errors.New("data set has no valid StudyInstanceUID")
	}
	if _, err := io.Copy(bw, src); err != nil {
		return dimse.StatusOutOfResources, fmt.Errorf("receive: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return dimse.StatusOutOfResources, fmt.Errorf("write: %w", err)
	}
	if !r.opts.NoSync {
		if err := f.Sync(); err != nil {
			return dimse.StatusOutOfResources, fmt.Errorf("sync: %w", err)
		}
	}
	st.size, st.sha = cw.n, hex.EncodeToString(h.Sum(nil))
	return dimse.StatusSuccess, nil
}

// record adds the instance to its outgoing transfer, opening a new round
// when the transfer had already gone past receiving. It returns a staged
// file the new one replaces.
func (r *Receiver) record(st staged, tgt Target) (old, key string, err error) {
	err = r.opts.Store.Commit(func(tx *store.Tx) error {
		old = ""
		tr, err := tx.Transfer(store.Outgoing, st.study, tgt.Peer)
		if errors.Is(err, store.ErrNotFound) {
			tr = &store.Transfer{StudyUID: st.study, Side: store.Outgoing, Peer: tgt.Peer, State: store.Receiving, Round: 1}
		} else if err != nil {
			return err
		}
		switch {
		case tr.State == store.Complete || tr.State == store.Uploading && tr.AnnounceID == "":
			// Not announced as a whole yet: the same round goes on (its
			// partial announces stay valid).
			tr.State = store.Receiving
		case tr.State != store.Receiving:
			reopen(tr)
		}
		tr.Destination, tr.CompleteOnRelease = tgt.Destination, tgt.CompleteOnRelease
		tr.Pull = tr.Pull || tgt.Pull
		tr.LastInstance = time.Now().UTC()
		prev, err := tx.Instance(tr, st.sop)
		switch {
		case errors.Is(err, store.ErrNotFound):
			tr.Instances++
			tr.Bytes += st.size
		case err != nil:
			return err
		default:
			old = prev.Path
			tr.Bytes += st.size - prev.Size
		}
		in := &store.Instance{SOPInstanceUID: st.sop, SOPClassUID: st.class, SeriesUID: st.series, TransferSyntax: st.ts,
			Modality: st.modality, Size: st.size, SHA256: st.sha, Path: st.path, State: store.IPending, Round: tr.Round}
		if prev != nil && prev.SHA256 == st.sha && prev.Round == tr.Round && prev.State == store.IUploaded {
			in.State, in.Key, in.Holder, in.Bucket = prev.State, prev.Key, prev.Holder, prev.Bucket // same bytes already in storage
		}
		if prev != nil && prev.SHA256 != st.sha {
			in.NewVersion = true
			r.opts.Logger.Warn("new version of an instance received", "step", "receive", "study", st.study, "instance", st.sop)
		}
		key = string(tr.Key())
		if err := tx.PutInstance(tr, in); err != nil {
			return err
		}
		return tx.PutTransfer(tr)
	})
	return old, key, err
}

// reopen starts a new round of a transfer whose whole manifest may have
// been announced: instances received again (or added) travel; the receipt
// counts start over.
func reopen(tr *store.Transfer) {
	tr.State = store.Receiving
	tr.Round++
	tr.Stored, tr.AlreadyPresent, tr.Failed, tr.Uploaded = 0, 0, 0, 0
	tr.Failures, tr.NewVersions, tr.Error = nil, nil, ""
	tr.AnnounceID, tr.Finished, tr.Cleaned = "", time.Time{}, false
}

// AssocEnded completes, when released, the transfers that the association
// fed and whose route says complete_on_release. It returns whether any
// transfer changed.
func (r *Receiver) AssocEnded(ev dimse.Event) bool {
	r.mu.Lock()
	keys := r.assocs[ev.AssocID]
	delete(r.assocs, ev.AssocID)
	r.mu.Unlock()
	if ev.Err != nil || len(keys) == 0 {
		return false
	}
	changed := false
	err := r.opts.Store.Update(func(tx *store.Tx) error {
		changed = false
		for k := range keys {
			parts := strings.SplitN(k, "\x00", 3)
			tr, err := tx.Transfer(parts[0], parts[1], parts[2])
			if err != nil {
				continue
			}
			if tr.CompleteOnRelease && !tr.Pull && tr.State == store.Receiving {
				tr.State = store.Complete
				changed = true
				r.opts.Logger.Info("study complete: association released", "step", "complete", "study", tr.StudyUID,
					"instances", tr.Instances, "bytes", tr.Bytes, "peer", tr.Peer)
				if err := tx.PutTransfer(tr); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.opts.Logger.Error("complete on release", "step", "complete", "err", err)
	}
	return changed
}

// SafeUID accepts UIDs usable in file names and object keys: digits and
// dots, at most 64 characters.
func SafeUID(uid string) bool {
	if uid == "" || len(uid) > 64 || strings.Trim(uid, ".") != uid || strings.Contains(uid, "..") {
		return false
	}
	return strings.Trim(uid, "0123456789.") == ""
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readErr remembers the first error other than io.EOF of its reader, so
// that a failing association is told apart from a data set the parser
// does not understand.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Package dirstore is a C-STORE handler that writes each received instance
// to DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm as a Part 10 file: a
// generated meta group followed by the data set bytes exactly as received.
//
// The data set is streamed to a temporary file, never held in memory; the
// file is synced and renamed into place before success is answered, so an
// aborted transfer leaves nothing behind. It is not an archive: there is no
// index, and a resent instance replaces the previous file.
package dirstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
)

// incomingDir holds instances being received, on the same file system as
// their final place so that the rename is atomic.
const incomingDir = ".incoming"

// noStudy names the folder of instances without a StudyInstanceUID.
const noStudy = "_no_study"

// Options configure a Store.
type Options struct {
	// NoSync skips fsync (tests and benchmarks only: a crash may then lose
	// acknowledged instances). Default false.
	NoSync bool
}

// Store writes instances under a directory. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	bufs sync.Pool
}

var _ dimse.StoreHandler = (*Store)(nil)

// New prepares dir (creating it and its incoming folder) and returns a Store.
func New(dir string, opts *Options) (*Store, error) {
	s := &Store{dir: dir}
	if opts != nil {
		s.opts = *opts
	}
	if err := os.MkdirAll(filepath.Join(dir, incomingDir), 0o755); err != nil {
		return nil, fmt.Errorf("prepare store: %w", err)
	}
	s.bufs.New = func() any { return bufio.NewWriterSize(nil, 256<<10) }
	return s, nil
}

// Store implements dimse.StoreHandler.
func (s *Store) Store(ctx context.Context, in *dimse.IncomingStore, data io.Reader) (dimse.Status, error) {
	if !safeUID(in.SOPInstanceUID) || !safeUID(in.SOPClassUID) {
		return dimse.StatusCannotUnderstand, fmt.Errorf("store: invalid SOP class or instance UID %q", in.SOPInstanceUID)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, incomingDir), in.SOPInstanceUID+".*.part")
	if err != nil {
		return dimse.StatusOutOfResources, fmt.Errorf("store: %w", err)
	}
	final, err := s.receive(tmp, in, data)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return dimse.StatusOutOfResources, err
	}
	if err := s.place(tmp.Name(), final); err != nil {
		return dimse.StatusOutOfResources, err
	}
	return dimse.StatusSuccess, nil
}

// receive writes the header and the data set into f, syncs and closes it,
// and returns the file's final path.
func (s *Store) receive(f *os.File, in *dimse.IncomingStore, data io.Reader) (string, error) {
	bw := s.bufs.Get().(*bufio.Writer)
	defer s.bufs.Put(bw)
	bw.Reset(f)
	defer bw.Reset(nil)
	meta := dicom.FileMeta{
		MediaStorageSOPClassUID:      in.SOPClassUID,
		MediaStorageSOPInstanceUID:   in.SOPInstanceUID,
		TransferSyntaxUID:            in.TransferSyntax,
		SourceApplicationEntityTitle: in.CallingAE,
	}
	if err := dicom.WriteFileHeader(bw, meta); err != nil {
		return "", fmt.Errorf("store %s: %w", in.SOPInstanceUID, err)
	}
	if _, err := bw.ReadFrom(data); err != nil {
		return "", fmt.Errorf("store %s: receive: %w", in.SOPInstanceUID, err)
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("store %s: write: %w", in.SOPInstanceUID, err)
	}
	study, err := studyOf(f.Name())
	if err != nil {
		return "", fmt.Errorf("store %s: %w", in.SOPInstanceUID, err)
	}
	if !s.opts.NoSync {
		if err := syncData(f); err != nil {
			return "", fmt.Errorf("store %s: sync: %w", in.SOPInstanceUID, err)
		}
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store %s: close: %w", in.SOPInstanceUID, err)
	}
	return filepath.Join(s.dir, study, in.SOPInstanceUID+".dcm"), nil
}

// studyOf reads the StudyInstanceUID back from the written file (from the
// page cache: the index attributes come before the pixel data).
func studyOf(path string) (string, error) {
	_, ds, err := dicom.ReadFileIndex(path, dicom.StudyInstanceUIDTag)
	if err != nil {
		var pe *dicom.ParseError
		if !errors.As(err, &pe) {
			return "", fmt.Errorf("read study UID: %w", err)
		}
		return noStudy, nil // kept as received; the data set is for the receiver to judge
	}
	study := dicom.TrimUID(ds.String(dicom.StudyInstanceUIDTag))
	if !safeUID(study) {
		return noStudy, nil
	}
	return study, nil
}

// place renames the synced file into its study folder and syncs the
// folders so that the rename survives a crash.
func (s *Store) place(tmp, final string) error {
	dir := filepath.Dir(final)
	created := false
	if err := os.Mkdir(dir, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, os.ErrExist) {
		os.Remove(tmp)
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: %w", err)
	}
	if s.opts.NoSync {
		return nil
	}
	if created {
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// safeUID accepts UIDs usable as file names: digits and dots, at most 64.
func safeUID(uid string) bool {
	if uid == "" || len(uid) > 64 || strings.Trim(uid, ".") != uid || strings.Contains(uid, "..") {
		return false
	}
	return strings.Trim(uid, "0123456789.") == ""
}

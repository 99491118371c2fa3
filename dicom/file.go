package dicom

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// preambleLength is the size of the Part 10 preamble before "DICM".
const preambleLength = 128

// FileMeta is the file meta information (group 0002) of a Part 10 file.
type FileMeta struct {
	MediaStorageSOPClassUID    string
	MediaStorageSOPInstanceUID string
	TransferSyntaxUID          string
	// ImplementationClassUID defaults to this package's when writing.
	ImplementationClassUID string
	// ImplementationVersionName is at most 16 characters; it defaults to
	// this package's when writing.
	ImplementationVersionName string
	// SourceApplicationEntityTitle is optional (the sending AE).
	SourceApplicationEntityTitle string

	// Elements holds every group 0002 element as read; ignored on write.
	Elements *DataSet
	// DataSetOffset is where the data set starts in the file (preamble,
	// "DICM" and meta group included); set on read and ignored on write.
	DataSetOffset int64
}

// WriteFileHeader writes the preamble, "DICM" and the meta group with a
// correct group length. The data set bytes, in meta.TransferSyntaxUID,
// follow: a receiver can write them straight after the header as received.
func WriteFileHeader(w io.Writer, meta FileMeta) error {
	b, err := fileHeader(meta)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write file header: %w", err)
	}
	return nil
}

func fileHeader(meta FileMeta) ([]byte, error) {
	if meta.ImplementationClassUID == "" {
		meta.ImplementationClassUID = ImplementationClassUID
	}
	if meta.ImplementationVersionName == "" {
		meta.ImplementationVersionName = ImplementationVersionName
	}
	for name, v := range map[string]string{
		"MediaStorageSOPClassUID":    meta.MediaStorageSOPClassUID,
		"MediaStorageSOPInstanceUID": meta.MediaStorageSOPInstanceUID,
		"TransferSyntaxUID":          meta.TransferSyntaxUID,
	} {
		if TrimUID(v) == "" {
			return nil, fmt.Errorf("write file header: %s: %w", name, ErrMissing)
		}
	}
	if len(meta.ImplementationVersionName) > 16 {
		return nil, fmt.Errorf("write file header: ImplementationVersionName %q is longer than 16 characters: %w",
			meta.ImplementationVersionName, ErrTooLarge)
	}
	group := NewDataSet(
		NewBytes(Tag{0x0002, 0x0001}, OB, []byte{0, 1}),
		NewString(MediaStorageSOPClassTag, UI, TrimUID(meta.MediaStorageSOPClassUID)),
		NewString(MediaStorageSOPInstTag, UI, TrimUID(meta.MediaStorageSOPInstanceUID)),
		NewString(TransferSyntaxUIDTag, UI, TrimUID(meta.TransferSyntaxUID)),
		NewString(ImplementationClassTag, UI, meta.ImplementationClassUID),
		NewString(ImplementationVersionTag, SH, meta.ImplementationVersionName),
	)
	if meta.SourceApplicationEntityTitle != "" {
		group.Set(NewString(Tag{0x0002, 0x0016}, AE, meta.SourceApplicationEntityTitle))
	}
	body, err := Encode(group, ExplicitVRLittleEndian)
	if err != nil {
		return nil, fmt.Errorf("write file header: %w", err)
	}
	out := make([]byte, preambleLength, preambleLength+16+len(body))
	out = append(out, "DICM"...)
	out = append(out, 0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0)
	out = append(out, byte(len(body)), byte(len(body)>>8), byte(len(body)>>16), byte(len(body)>>24))
	return append(out, body...), nil
}

// ReadFileMeta reads the preamble, "DICM" and the meta group from r, and
// returns the meta information with a reader positioned at the first byte
// of the data set (still encoded, and still deflated for a deflated
// syntax), so the data set can be streamed on as it is. The group length
// is not trusted: group 0002 is read until the group changes.
func ReadFileMeta(r io.Reader) (FileMeta, io.Reader, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	var meta FileMeta
	pre := make([]byte, preambleLength+4)
	if n, err := io.ReadFull(br, pre); err != nil {
		return meta, nil, &ParseError{Offset: int64(n), Err: fmt.Errorf("read preamble: %w", ErrNotPart10)}
	}
	if string(pre[preambleLength:]) != "DICM" {
		return meta, nil, &ParseError{Offset: preambleLength, Err: ErrNotPart10}
	}
	d := newDecoder(br, syntaxOf(ExplicitVRLittleEndian), &ReadOptions{MaxValueLength: maxMetaValueLength}, preambleLength+4)
	d.r = br // share the buffer: what the decoder leaves unread is the data set
	group := &DataSet{}
	for {
		t, err := d.PeekTag()
		if err == io.EOF || err == nil && t.Group != 0x0002 {
			break
		}
		if err != nil {
			return meta, nil, err
		}
		if len(group.Elements) == maxMetaElements {
			return meta, nil, d.fail(d.off, t, fmt.Errorf("more than %d meta elements: %w", maxMetaElements, ErrTooLarge))
		}
		e, err := d.Next()
		if err != nil {
			return meta, nil, err
		}
		group.Elements = append(group.Elements, e)
	}
	meta = metaFrom(group)
	meta.DataSetOffset = d.off
	if meta.TransferSyntaxUID == "" {
		meta.TransferSyntaxUID = guessSyntax(br)
	}
	return meta, br, nil
}

func metaFrom(group *DataSet) FileMeta {
	return FileMeta{
		MediaStorageSOPClassUID:      TrimUID(group.String(MediaStorageSOPClassTag)),
		MediaStorageSOPInstanceUID:   TrimUID(group.String(MediaStorageSOPInstTag)),
		TransferSyntaxUID:            TrimUID(group.String(TransferSyntaxUIDTag)),
		ImplementationClassUID:       TrimUID(group.String(ImplementationClassTag)),
		ImplementationVersionName:    group.String(ImplementationVersionTag),
		SourceApplicationEntityTitle: group.String(Tag{0x0002, 0x0016}),
		Elements:                     group,
	}
}

// guessSyntax picks implicit or explicit VR little endian for a data set
// whose meta group names no transfer syntax, by looking for a VR code after
// the first tag.
func guessSyntax(br *bufio.Reader) string {
	b, _ := br.Peek(6)
	if len(b) == 6 && isVRCode(b[4], b[5]) {
		return ExplicitVRLittleEndian
	}
	return ImplicitVRLittleEndian
}

// File is a Part 10 file read into memory.
type File struct {
	Meta    FileMeta
	DataSet *DataSet
}

// Read reads a Part 10 file from r. opts may limit or skip values (nil
// reads everything).
func Read(r io.Reader, opts *ReadOptions) (*File, error) {
	meta, rest, err := ReadFileMeta(r)
	if err != nil {
		return nil, err
	}
	d := newDecoder(rest, syntaxOf(meta.TransferSyntaxUID), opts, meta.DataSetOffset)
	ds, err := d.ReadDataSet()
	return &File{Meta: meta, DataSet: ds}, err
}

// ReadFile reads the Part 10 file at path; errors name the file and offset.
func ReadFile(path string, opts *ReadOptions) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read file: %w", err)
	}
	defer f.Close()
	df, err := Read(f, opts)
	if err != nil {
		return df, withPath(path, err)
	}
	return df, nil
}

// ReadFileIndex reads the meta group of the file at path and the wanted
// top-level elements of its data set (all when tags is empty), stopping
// before the pixel data without reading it.
func ReadFileIndex(path string, tags ...Tag) (FileMeta, *DataSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileMeta{}, nil, fmt.Errorf("read file index: %w", err)
	}
	defer f.Close()
	meta, rest, err := ReadFileMeta(f)
	if err != nil {
		return meta, nil, withPath(path, err)
	}
	opts := &ReadOptions{StopBefore: Tag{0x7FE0, 0x0000}, Tags: tags}
	ds, err := newDecoder(rest, syntaxOf(meta.TransferSyntaxUID), opts, meta.DataSetOffset).ReadDataSet()
	if err != nil {
		return meta, ds, withPath(path, err)
	}
	return meta, ds, nil
}

// Write writes a Part 10 file: the header for meta, then ds encoded in
// meta.TransferSyntaxUID.
func Write(w io.Writer, meta FileMeta, ds *DataSet) error {
	if err := WriteFileHeader(w, meta); err != nil {
		return err
	}
	return EncodeDataSet(w, ds, meta.TransferSyntaxUID)
}

// WriteFile writes a Part 10 file to path and syncs it. On failure the
// partial file is removed.
func WriteFile(path string, meta FileMeta, ds *DataSet) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, readBufferSize)
	if err := Write(bw, meta, ds); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

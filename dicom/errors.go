package dicom

import (
	"errors"
	"fmt"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrTruncated means the input ended inside an element or sequence.
	ErrTruncated = errors.New("truncated data")
	// ErrMalformed means the bytes cannot be a valid encoding (a stray
	// delimiter, an item outside a sequence, lengths that overrun).
	ErrMalformed = errors.New("malformed data")
	// ErrTooLarge means a length read from input exceeds a limit.
	ErrTooLarge = errors.New("length exceeds limit")
	// ErrNotPart10 means the input has no "DICM" prefix after the preamble.
	ErrNotPart10 = errors.New("not a DICOM Part 10 file (no DICM prefix)")
	// ErrUnsupportedSyntax means the transfer syntax cannot be used for the
	// requested operation (for instance writing big endian).
	ErrUnsupportedSyntax = errors.New("unsupported transfer syntax")
	// ErrUnknownTag means a tag or keyword is not in the dictionary.
	ErrUnknownTag = errors.New("unknown tag or keyword")
	// ErrMissing means a required attribute is absent.
	ErrMissing = errors.New("missing attribute")
)

// ParseError locates a parsing failure. Offset counts bytes from the start
// of the input (the file, or the data set stream when no file is involved).
type ParseError struct {
	Path   string // file name, empty when parsing a stream
	Offset int64  // byte offset of the element or structure that failed
	Tag    Tag    // element being read, zero when unknown
	Err    error  // cause, usually wrapping one of the sentinel errors
}

func (e *ParseError) Error() string {
	where := fmt.Sprintf("offset %d", e.Offset)
	if e.Path != "" {
		where = e.Path + ": " + where
	}
	if e.Tag != (Tag{}) {
		where += " " + e.Tag.String()
	}
	return "dicom: " + where + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// withPath sets the file name on a ParseError inside err, or wraps err
// with the name when it has none.
func withPath(path string, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.Path == "" {
			pe.Path = path
		}
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

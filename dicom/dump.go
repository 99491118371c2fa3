package dicom

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the dump output.
const (
	dumpMaxText    = 128 // text values longer than this are cut
	dumpMaxNumbers = 16  // numbers shown for multi-valued binary elements
	dumpMaxHex     = 16  // bytes shown in hex for OB, UN and other binary
	// DumpSkipOver is the ReadOptions.SkipOver a dump needs: longer values
	// are only summarized, so they need not be read.
	DumpSkipOver = 4096
)

// Dump writes ds one attribute per line (tag, VR, keyword, value), nested
// sequence items indented, long and binary values summarized.
func Dump(w io.Writer, ds *DataSet) error {
	bw := bufio.NewWriter(w)
	dumpDataSet(bw, ds, 0)
	return bw.Flush()
}

func dumpDataSet(w *bufio.Writer, ds *DataSet, depth int) {
	for _, e := range ds.Elements {
		dumpElement(w, e, depth)
	}
}

func dumpElement(w *bufio.Writer, e *Element, depth int) {
	ind := strings.Repeat("  ", depth)
	kw := Keyword(e.Tag)
	if kw == "" {
		kw = "?"
	}
	vr := e.VR
	if vr == "" {
		vr = "--"
	}
	switch {
	case e.Fragments != nil:
		fmt.Fprintf(w, "%s%s %s %-36s (%d fragments incl. offset table)\n", ind, e.Tag, vr, kw, len(e.Fragments))
		for i, f := range e.Fragments {
			fmt.Fprintf(w, "%s  %s -- %-36s #%d <%d bytes>\n", ind, f.Tag, "Item", i, f.Length)
		}
	case e.Items != nil:
		fmt.Fprintf(w, "%s%s %s %-36s (%d items)\n", ind, e.Tag, vr, kw, len(e.Items))
		for i, item := range e.Items {
			fmt.Fprintf(w, "%s  %s -- %-36s #%d\n", ind, ItemTag, "Item", i+1)
			dumpDataSet(w, item, depth+2)
		}
	default:
		fmt.Fprintf(w, "%s%s %s %-36s %s\n", ind, e.Tag, vr, kw, formatValue(e))
	}
}

// formatValue renders a value for a dump line.
func formatValue(e *Element) string {
	if e.Skipped {
		return fmt.Sprintf("<%d bytes, not read>", e.Length)
	}
	v := e.Value
	switch {
	case e.VR.IsText():
		s := strings.TrimRight(string(v), " \x00")
		more := ""
		if len(s) > dumpMaxText {
			s, more = s[:dumpMaxText], fmt.Sprintf("... (%d bytes)", len(v))
		}
		out := "[" + printable(s) + "]" + more
		if e.VR == UI {
			if name := UIDName(s); name != "" {
				out += " " + name
			}
		}
		return out
	case e.VR == AT:
		return joinNumbers(v, 4, func(b []byte) string {
			return Tag{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:])}.String()
		})
	case e.VR == US || e.VR == SS || e.VR == UL || e.VR == SL || e.VR == FL || e.VR == FD || e.VR == SV || e.VR == UV:
		return joinNumbers(v, vrTable[e.VR].unit, numberFormatter(e.VR))
	case e.VR == OW && len(v) <= dumpMaxHex && len(v)%2 == 0:
		return joinNumbers(v, 2, func(b []byte) string { return fmt.Sprintf("%04x", binary.LittleEndian.Uint16(b)) })
	case len(v) <= dumpMaxHex:
		return hexBytes(v)
	}
	return fmt.Sprintf("<%d bytes>", len(v))
}

func numberFormatter(vr VR) func([]byte) string {
	le := binary.LittleEndian
	switch vr {
	case US:
		return func(b []byte) string { return strconv.Itoa(int(le.Uint16(b))) }
	case SS:
		return func(b []byte) string { return strconv.Itoa(int(int16(le.Uint16(b)))) }
	case UL:
		return func(b []byte) string { return strconv.FormatUint(uint64(le.Uint32(b)), 10) }
	case SL:
		return func(b []byte) string { return strconv.Itoa(int(int32(le.Uint32(b)))) }
	case FL:
		return func(b []byte) string { return strconv.FormatFloat(float32At(b), 'g', -1, 32) }
	case FD:
		return func(b []byte) string { return strconv.FormatFloat(float64At(b), 'g', -1, 64) }
	case SV:
		return func(b []byte) string { return strconv.FormatInt(int64(le.Uint64(b)), 10) }
	}
	return func(b []byte) string { return strconv.FormatUint(le.Uint64(b), 10) }
}

func joinNumbers(v []byte, unit int, format func([]byte) string) string {
	if len(v)%unit != 0 {
		return fmt.Sprintf("<%d bytes, not a multiple of %d>", len(v), unit)
	}
	var parts []string
	for i := 0; i+unit <= len(v); i += unit {
		if len(parts) == dumpMaxNumbers {
			parts = append(parts, fmt.Sprintf("... (%d values)", len(v)/unit))
			break
		}
		parts = append(parts, format(v[i:i+unit]))
	}
	return strings.Join(parts, `\`)
}

func hexBytes(v []byte) string {
	parts := make([]string, len(v))
	for i, b := range v {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, `\`)
}

// printable keeps valid UTF-8 text and escapes control characters and
// bytes of other encodings (GB18030, Latin-1) as \xNN; the value itself is
// never re-encoded.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r < 0x20 || r == 0x7F {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// DumpFile writes the meta group and data set of the Part 10 file at path,
// one element at a time: values longer than DumpSkipOver are skipped
// unread, so a file of any size is dumped in constant memory.
func DumpFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer f.Close()
	meta, rest, err := ReadFileMeta(f)
	if err != nil {
		return withPath(path, err)
	}
	ts := syntaxOf(meta.TransferSyntaxUID)
	fmt.Fprintf(w, "# File meta information\n")
	if err := Dump(w, meta.Elements); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	fmt.Fprintf(w, "# Data set (%s)\n", ts.Name)
	d := newDecoder(rest, ts, &ReadOptions{SkipOver: DumpSkipOver}, meta.DataSetOffset)
	for {
		e, err := d.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return withPath(path, err)
		}
		if err := Dump(w, &DataSet{Elements: []*Element{e}}); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
	}
}

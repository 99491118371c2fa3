package relay

import (
	"encoding/binary"
	"errors"
	"time"
)

// An intake record is what the intake journal holds for one client batch:
//
//	uvarint len(client) | client | varint unix nanos | uvarint count |
//	count × (uvarint len(raw) | raw)
//
// Every length is checked against what is left before it is used, so a
// record that passed the journal's checksum but is malformed (a bug, or a
// newer format) is refused, never read past.

// encodeIntake encodes a journal record: the client, the time of receipt,
// and the envelopes as the client sent them.
func encodeIntake(client string, now time.Time, raws [][]byte) []byte {
	n := len(client) + 3*binary.MaxVarintLen64
	for _, raw := range raws {
		n += len(raw) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(client)))
	b = append(b, client...)
	b = binary.AppendVarint(b, now.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(raws)))
	for _, raw := range raws {
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	return b
}

var errIntakeRecord = errors.New("malformed intake record")

// decodeIntake decodes a record made by encodeIntake; the envelopes alias b.
func decodeIntake(b []byte) (client string, now time.Time, raws [][]byte, err error) {
	next := func() []byte {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			err = errIntakeRecord
			return nil
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v
	}
	client = string(next())
	nanos, k := binary.Varint(b)
	if err != nil || k <= 0 {
		return "", time.Time{}, nil, errIntakeRecord
	}
	b = b[k:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return "", time.Time{}, nil, errIntakeRecord
	}
	b = b[k:]
	for range count {
		raw := next()
		if err != nil {
			return "", time.Time{}, nil, err
		}
		raws = append(raws, raw)
	}
	if len(b) != 0 {
		return "", time.Time{}, nil, errIntakeRecord
	}
	return client, time.Unix(0, nanos), raws, nil
}

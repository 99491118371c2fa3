package ul

import (
	"time"

	"github.com/medrelay/medrelay/dicom"
)

// Our identity in association requests and acknowledgements: the same as
// in the meta groups of the files we write, so that a peer's logs and a
// file's header name one implementation.
const (
	// ImplementationClassUID identifies medrelay's DICOM implementation.
	ImplementationClassUID = dicom.ImplementationClassUID
	// ImplementationVersion is our implementation version name (at most 16
	// characters: longer names make some peers drop the association).
	ImplementationVersion = dicom.ImplementationVersionName
)

// Options tunes an association. The zero value (or nil) means defaults.
type Options struct {
	// MaxPDULength is the largest P-DATA-TF PDU we announce we can
	// receive. Default DefaultMaxPDULength (16384); values below
	// MinMaxPDULength are raised to it.
	MaxPDULength uint32
	// MaxSendPDULength caps the PDUs we send below the peer's announced
	// limit. Default 0: the peer's limit (or 1 MiB when it announced none).
	MaxSendPDULength uint32
	// ImplementationClassUID defaults to ImplementationClassUID.
	ImplementationClassUID string
	// ImplementationVersion defaults to ImplementationVersion; it is cut
	// to 16 characters.
	ImplementationVersion string
	// AssocTimeout bounds association negotiation and is the ARTIM timer
	// (waiting for a request after connecting, for the peer to close after
	// a rejection or release). Default 30 s.
	AssocTimeout time.Duration
	// NetworkTimeout bounds each read and write once the association is
	// established. Default 60 s; negative means no limit.
	NetworkTimeout time.Duration
}

const (
	defaultAssocTimeout   = 30 * time.Second
	defaultNetworkTimeout = 60 * time.Second
	unlimitedSendPDU      = 1 << 20
)

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.MaxPDULength == 0 {
		v.MaxPDULength = DefaultMaxPDULength
	}
	if v.MaxPDULength < MinMaxPDULength {
		v.MaxPDULength = MinMaxPDULength
	}
	if v.MaxPDULength > MaxPDataPDULength {
		v.MaxPDULength = MaxPDataPDULength
	}
	if v.ImplementationClassUID == "" {
		v.ImplementationClassUID = ImplementationClassUID
	}
	if v.ImplementationVersion == "" {
		v.ImplementationVersion = ImplementationVersion
	}
	if len(v.ImplementationVersion) > MaxVersionNameLength {
		v.ImplementationVersion = v.ImplementationVersion[:MaxVersionNameLength]
	}
	if v.AssocTimeout <= 0 {
		v.AssocTimeout = defaultAssocTimeout
	}
	if v.NetworkTimeout == 0 {
		v.NetworkTimeout = defaultNetworkTimeout
	}
	return v
}

func (o *Options) userInfo() UserInfo {
	return UserInfo{
		MaxPDULength:           o.MaxPDULength,
		ImplementationClassUID: o.ImplementationClassUID,
		ImplementationVersion:  o.ImplementationVersion,
	}
}

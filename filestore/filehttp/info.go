package filehttp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/medrelay/medrelay/filestore"
)

// InfoPath is the endpoint, relative to the prefix, where a relay tells
// which storage it serves (GET, answered with StoreInfo).
const InfoPath = "store"

// StoreInfo describes the storage behind a relay's file service, so a
// sender can fill a reference and a receiver can tell whether its relay
// reaches the object a reference names.
type StoreInfo struct {
	// Holder is the id of the relay whose configuration holds the storage
	// (the relay itself, or an ancestor when it uses its parent's).
	Holder string `json:"holder"`
	// Kind is "s3" or "local".
	Kind string `json:"kind"`
	// Bucket is the S3 bucket; empty for a local store.
	Bucket string `json:"bucket,omitempty"`
	// Mode is how bytes move: "direct" or "proxy".
	Mode string `json:"mode"`
	// Via is the relay that answered when it is not the holder.
	Via string `json:"via,omitempty"`
}

// Reaches reports whether the storage described holds what ref names:
// the same holder, or the same S3 bucket (relays that share object
// storage). The error says where the file is and where this relay looks.
func (si StoreInfo) Reaches(ref filestore.Ref) error {
	if ref.Store == si.Holder && ref.Bucket == si.Bucket {
		return nil
	}
	if si.Kind == "s3" && ref.Bucket != "" && ref.Bucket == si.Bucket {
		return nil
	}
	return fmt.Errorf("file %q is held by relay %q (bucket %q), outside the storage this relay reaches (relay %q, %s bucket %q): %w",
		ref.Key, ref.Store, ref.Bucket, si.Holder, si.Kind, si.Bucket, filestore.ErrNotFound)
}

// Info asks the relay which storage it serves.
func (c *Client) Info(ctx context.Context) (StoreInfo, error) {
	var si StoreInfo
	if err := c.doJSON(ctx, http.MethodGet, c.base+InfoPath, nil, &si); err != nil {
		return si, fmt.Errorf("file store info: %w", err)
	}
	return si, nil
}

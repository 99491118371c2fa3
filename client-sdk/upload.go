package client

import (
	"context"
	"fmt"
	"os"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/transfer"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Uploader puts files in the storage the relay serves without sending an
// envelope, for applications (like the DICOM gateway) that upload many
// objects and then announce them in one envelope of their own. It is safe
// for concurrent use.
type Uploader struct {
	c     *Client
	fc    *filehttp.Client
	si    filehttp.StoreInfo
	topts TransferOptions
}

// NewUploader asks the relay which storage it serves (once) and returns
// an Uploader using it with topts.
func (c *Client) NewUploader(ctx context.Context, topts TransferOptions) (*Uploader, error) {
	fc, err := c.filesClient(!topts.Proxy)
	if err != nil {
		return nil, err
	}
	si, err := fc.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("uploader: relay %s: %w", c.opts.Relay, err)
	}
	return &Uploader{c: c, fc: fc, si: si, topts: topts}, nil
}

// Upload sends the file at path to key (see filestore.ValidateKey) and
// returns its reference (size and SHA-256 computed here). With the
// client's StateDir set, an upload of several parts cut short resumes
// with its missing parts on the next call with the same path and key (a
// one-part upload just starts again).
func (u *Uploader) Upload(ctx context.Context, path, key, mediaType string) (*pb.FileRef, error) {
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	meta := filestore.PutOptions{MediaType: mediaType, Expires: u.c.fileExpiry(nil)}
	stateDir := u.c.opts.StateDir
	partSize := u.topts.PartSize
	if partSize == 0 {
		partSize = transfer.DefaultPartSize
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() <= partSize {
		stateDir = "" // one part: there is nothing to resume, so no state to write
	}
	up, err := transfer.Upload(ctx, u.fc, path, key, meta, transfer.Options{
		StateDir: stateDir, PartSize: u.topts.PartSize, Concurrency: u.topts.Concurrency})
	if err != nil {
		return nil, err
	}
	return &pb.FileRef{Store: u.si.Holder, Bucket: u.si.Bucket, Key: key, Size: up.Info.Size,
		Sha256: up.Info.SHA256, MediaType: mediaType}, nil
}

// Delete removes an uploaded object. Relays allow it only from their own
// machine; elsewhere the object stays until the relay's gc collects it
// after its expiry, and the error says so.
func (u *Uploader) Delete(ctx context.Context, key string) error {
	return u.fc.Delete(ctx, key)
}

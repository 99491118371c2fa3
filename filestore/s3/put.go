package s3

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/filestore"
)

// maxCopySize is the largest object S3 copies in one CopyObject call.
const maxCopySize = 5 << 30

// Put implements filestore.Store. With opts.SHA256 set the digest is
// stored up front and checked while streaming: on a mismatch the upload is
// aborted and nothing is stored. Without it, the object is streamed, then
// copied onto itself server-side to record the digest computed on the way
// (S3 metadata cannot change after an upload).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts filestore.PutOptions) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("put: %w", err)
	}
	hr := filestore.NewHashReader(r, key, opts.SHA256, opts.Size)
	size := int64(-1)
	if opts.Size > 0 {
		size = opts.Size
	}
	po := minio.PutObjectOptions{
		UserMetadata: userMetadata(opts, opts.SHA256),
		ContentType:  mediaType(opts),
		PartSize:     uint64(s.partSize),
		NumThreads:   1, // one part buffer at a time
	}
	if _, err := s.core.Client.PutObject(ctx, s.bucket, key, hr, size, po); err != nil {
		return filestore.Info{}, fmt.Errorf("put %q: %w", key, unwrapChecksum(err, hr))
	}
	if opts.SHA256 == "" {
		if err := s.recordSum(ctx, key, opts, hr); err != nil {
			return filestore.Info{}, fmt.Errorf("put %q: record sha256: %w", key, err)
		}
	}
	return s.Stat(ctx, key)
}

// unwrapChecksum returns the reader's own error when minio-go reports it
// in its words, so callers can test for ErrChecksumMismatch.
func unwrapChecksum(err error, hr *filestore.HashReader) error {
	if rerr := hr.Err(); rerr != nil {
		return rerr
	}
	return mapErr(err)
}

func (s *Store) recordSum(ctx context.Context, key string, opts filestore.PutOptions, hr *filestore.HashReader) error {
	meta := userMetadata(opts, hr.Sum())
	meta["Content-Type"] = mediaType(opts)
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: key, UserMetadata: meta, ReplaceMetadata: true}
	src := minio.CopySrcOptions{Bucket: s.bucket, Object: key}
	var err error
	if hr.N() <= maxCopySize {
		_, err = s.core.Client.CopyObject(ctx, dst, src)
	} else {
		_, err = s.core.Client.ComposeObject(ctx, dst, src)
	}
	return mapErr(err)
}

// CreateUpload implements filestore.Store.
func (s *Store) CreateUpload(ctx context.Context, key string, opts filestore.PutOptions) (string, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	if !filestore.ValidSHA256(opts.SHA256) {
		return "", fmt.Errorf("create upload %q: %w: sha256 of the whole object is required", key, filestore.ErrInvalidOptions)
	}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{
		UserMetadata: userMetadata(opts, opts.SHA256),
		ContentType:  mediaType(opts),
	})
	if err != nil {
		return "", fmt.Errorf("create upload %q: %w", key, mapErr(err))
	}
	return id, nil
}

// UploadPart implements filestore.Store. The body streams to the service
// (signed in chunks over http, unsigned payload over https).
func (s *Store) UploadPart(ctx context.Context, key, id string, n int, r io.Reader, size int64) (filestore.Part, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Part{}, fmt.Errorf("upload part: %w", err)
	}
	if n < 1 || n > filestore.MaxParts {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w: number outside 1..%d", n, key, filestore.ErrInvalidPart, filestore.MaxParts)
	}
	op, err := s.core.PutObjectPart(ctx, s.bucket, key, id, n, r, size, minio.PutObjectPartOptions{})
	if err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, mapErr(err))
	}
	return filestore.Part{Number: n, Size: op.Size, ETag: strings.Trim(op.ETag, `"`)}, nil
}

// ListParts implements filestore.Store.
func (s *Store) ListParts(ctx context.Context, key, id string) ([]filestore.Part, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("list parts: %w", err)
	}
	var parts []filestore.Part
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, key, id, marker, 1000)
		if err != nil {
			return nil, fmt.Errorf("list parts of %q: %w", key, mapErr(err))
		}
		for _, p := range res.ObjectParts {
			parts = append(parts, filestore.Part{Number: p.PartNumber, Size: p.Size, ETag: strings.Trim(p.ETag, `"`)})
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteUpload implements filestore.Store. S3 cannot hash the joined
// object server-side, so the SHA-256 given to CreateUpload is trusted here
// and verified by the receiver.
func (s *Store) CompleteUpload(ctx context.Context, key, id string, parts []filestore.Part) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload: %w", err)
	}
	if len(parts) == 0 {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w: no parts", key, filestore.ErrInvalidPart)
	}
	cp := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		cp[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, cp, minio.PutObjectOptions{}); err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w", key, mapErr(err))
	}
	return s.Stat(ctx, key)
}

// AbortUpload implements filestore.Store.
func (s *Store) AbortUpload(ctx context.Context, key, id string) error {
	if err := filestore.ValidateKey(key); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, key, id); err != nil {
		return fmt.Errorf("abort upload of %q: %w", key, mapErr(err))
	}
	return nil
}

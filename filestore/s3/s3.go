// Package s3 is the filestore backend for S3-compatible object storage
// (MinIO, Ceph RGW, cloud services) through minio-go.
//
// Objects carry their metadata as x-amz-meta-medrelay-* headers, so the
// SHA-256, envelope id and expiry travel with the object itself. Large
// objects are written with streaming multipart uploads that hold at most
// one part in memory. Open checks the credentials and the bucket, and its
// errors name the configuration key to fix.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medrelay/medrelay/filestore"
)

var (
	_ filestore.Store     = (*Store)(nil)
	_ filestore.Presigner = (*Store)(nil)
)

// Metadata keys, stored as x-amz-meta-<key>.
const (
	metaSHA256   = "Medrelay-Sha256"
	metaEnvelope = "Medrelay-Envelope"
	metaExpires  = "Medrelay-Expires"
)

// DefaultPartSize is the part size Put uses for objects whose size is
// unknown or larger than one part.
const DefaultPartSize = 16 << 20

// Options configures an S3 Store. The names in brackets are the relay
// configuration keys that errors mention.
type Options struct {
	// Endpoint is host:port of the service [filestore.endpoint]. Required.
	Endpoint string
	// Bucket must exist [filestore.bucket]. Required.
	Bucket string
	// AccessKey and SecretKey are the credentials
	// [filestore.access_key, filestore.secret_key]. Required.
	AccessKey, SecretKey string
	// Secure uses https [filestore.secure]. Default false.
	Secure bool
	// Region of the bucket. Default "us-east-1", which MinIO and Ceph accept.
	Region string
	// PublicEndpoint is host:port that clients use in presigned URLs when
	// it differs from Endpoint (for example behind NAT). Default Endpoint.
	PublicEndpoint string
	// PartSize is the part size Put uses for large or unknown-size bodies,
	// and thus the memory it holds. Default DefaultPartSize; at least
	// filestore.MinPartSize.
	PartSize int64
	// OpenTimeout bounds the checks Open makes. Default 15s.
	OpenTimeout time.Duration
}

// Store is an S3 bucket. It is safe for concurrent use.
type Store struct {
	core     minio.Core
	signer   *minio.Client // presigns with PublicEndpoint
	bucket   string
	partSize int64
}

// Open connects, checks the credentials and that the bucket exists.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	client, err := newClient(opts.Endpoint, opts, 10)
	if err != nil {
		return nil, fmt.Errorf("open s3 filestore: filestore.endpoint %q: %w", opts.Endpoint, err)
	}
	signer := client
	if opts.PublicEndpoint != "" && opts.PublicEndpoint != opts.Endpoint {
		if signer, err = newClient(opts.PublicEndpoint, opts, 10); err != nil {
			return nil, fmt.Errorf("open s3 filestore: public endpoint %q: %w", opts.PublicEndpoint, err)
		}
	}
	if err := checkBucket(ctx, opts); err != nil {
		return nil, err
	}
	s := &Store{core: minio.Core{Client: client}, signer: signer, bucket: opts.Bucket, partSize: opts.PartSize}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	return s, nil
}

func (o Options) check() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"filestore.endpoint", o.Endpoint}, {"filestore.bucket", o.Bucket},
		{"filestore.access_key", o.AccessKey}, {"filestore.secret_key", o.SecretKey},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("open s3 filestore: %s required", strings.Join(missing, ", "))
	}
	if strings.Contains(o.Endpoint, "/") {
		return fmt.Errorf("open s3 filestore: filestore.endpoint %q must be host:port, without scheme or path (use filestore.secure for https)", o.Endpoint)
	}
	if o.PartSize != 0 && o.PartSize < filestore.MinPartSize {
		return fmt.Errorf("open s3 filestore: part size %d below the S3 minimum %d", o.PartSize, filestore.MinPartSize)
	}
	return nil
}

func newClient(endpoint string, opts Options, retries int) (*minio.Client, error) {
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	return minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:     opts.Secure,
		Region:     region,
		MaxRetries: retries,
	})
}

// checkBucket makes one request with a client that does not retry, and
// turns its failure into an error naming the setting to fix.
func checkBucket(ctx context.Context, opts Options) error {
	timeout := opts.OpenTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := newClient(opts.Endpoint, opts, 1)
	if err != nil {
		return fmt.Errorf("open s3 filestore: filestore.endpoint %q: %w", opts.Endpoint, err)
	}
	// ListObjects with one key reports bad credentials with a precise
	// code, where HEAD bucket only says 403.
	objs := c.ListObjects(ctx, opts.Bucket, minio.ListObjectsOptions{MaxKeys: 1})
	if obj, ok := <-objs; ok && obj.Err != nil {
		return explainOpenError(opts, obj.Err)
	}
	return nil
}

func explainOpenError(opts Options, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchBucket":
		return fmt.Errorf("open s3 filestore: filestore.bucket %q does not exist on %s (create it, or name an existing bucket): %w", opts.Bucket, opts.Endpoint, err)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
		return fmt.Errorf("open s3 filestore: filestore.access_key/secret_key rejected by %s for bucket %q: %w", opts.Endpoint, opts.Bucket, err)
	case "":
		return fmt.Errorf("open s3 filestore: filestore.endpoint %q unreachable (check host, port and filestore.secure=%v): %w", opts.Endpoint, opts.Secure, err)
	}
	return fmt.Errorf("open s3 filestore: %s bucket %q: %w", opts.Endpoint, opts.Bucket, err)
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// mapErr turns S3 error codes into filestore sentinels.
func mapErr(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchUpload", "NotFound":
		return fmt.Errorf("%w: %v", filestore.ErrNotFound, err)
	case "InvalidPart", "InvalidPartOrder", "EntityTooSmall":
		return fmt.Errorf("%w: %v", filestore.ErrInvalidPart, err)
	}
	return err
}

func userMetadata(opts filestore.PutOptions, sum string) map[string]string {
	m := map[string]string{}
	if sum != "" {
		m[metaSHA256] = sum
	}
	if opts.EnvelopeID != "" {
		m[metaEnvelope] = opts.EnvelopeID
	}
	if !opts.Expires.IsZero() {
		m[metaExpires] = opts.Expires.UTC().Format(time.RFC3339)
	}
	return m
}

func mediaType(opts filestore.PutOptions) string {
	if opts.MediaType == "" {
		return "application/octet-stream"
	}
	return opts.MediaType
}

func toInfo(key string, oi minio.ObjectInfo) filestore.Info {
	meta := func(k string) string {
		for mk, v := range oi.UserMetadata {
			if strings.EqualFold(mk, k) || strings.EqualFold(mk, "X-Amz-Meta-"+k) {
				return v
			}
		}
		return ""
	}
	in := filestore.Info{Key: key, Size: oi.Size, SHA256: meta(metaSHA256), EnvelopeID: meta(metaEnvelope),
		MediaType: oi.ContentType, Modified: oi.LastModified.UTC()}
	if t, err := time.Parse(time.RFC3339, meta(metaExpires)); err == nil {
		in.Expires = t
	}
	return in
}

// Stat implements filestore.Store.
func (s *Store) Stat(ctx context.Context, key string) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("stat: %w", err)
	}
	oi, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return filestore.Info{}, fmt.Errorf("stat %q: %w", key, mapErr(err))
	}
	return toInfo(key, oi), nil
}

// Get implements filestore.Store.
func (s *Store) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get: %w", err)
	}
	var o minio.GetObjectOptions
	if offset > 0 {
		if err := o.SetRange(offset, 0); err != nil {
			return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
		}
	}
	rc, oi, _, err := s.core.GetObject(ctx, s.bucket, key, o)
	if minio.ToErrorResponse(err).Code == "InvalidRange" {
		// Offset at the end: S3 refuses an empty range.
		in, serr := s.Stat(ctx, key)
		if serr == nil && offset == in.Size {
			return io.NopCloser(strings.NewReader("")), in, nil
		}
	}
	if err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, mapErr(err))
	}
	in := toInfo(key, oi)
	in.Size += offset // oi.Size is the length of the range
	return rc, in, nil
}

// Delete implements filestore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := filestore.ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %q: %w", key, mapErr(err))
	}
	return nil
}

// List implements filestore.Store. It stats every object to read its
// metadata, which works on every S3 service.
func (s *Store) List(ctx context.Context, prefix string, fn func(filestore.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine
	for obj := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list %q: %w", prefix, mapErr(obj.Err))
		}
		in, err := s.Stat(ctx, obj.Key)
		if errors.Is(err, filestore.ErrNotFound) {
			continue
		}
		if err != nil {
			// A key another writer made that we cannot address.
			if errors.Is(err, filestore.ErrInvalidKey) {
				continue
			}
			return fmt.Errorf("list: %w", err)
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

// Presign implements filestore.Presigner.
func (s *Store) Presign(ctx context.Context, req filestore.PresignRequest) (string, error) {
	if err := filestore.ValidateKey(req.Key); err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = filestore.DefaultPresignTTL
	}
	var u *url.URL
	var err error
	switch req.Method {
	case filestore.PresignGet:
		u, err = s.signer.PresignedGetObject(ctx, s.bucket, req.Key, ttl, nil)
	case filestore.PresignPart:
		if req.PartNumber < 1 || req.PartNumber > filestore.MaxParts || req.UploadID == "" {
			return "", fmt.Errorf("presign %q: %w: part %d of upload %q", req.Key, filestore.ErrInvalidPart, req.PartNumber, req.UploadID)
		}
		q := url.Values{"uploadId": {req.UploadID}, "partNumber": {strconv.Itoa(req.PartNumber)}}
		u, err = s.signer.Presign(ctx, "PUT", s.bucket, req.Key, ttl, q)
	default:
		return "", fmt.Errorf("presign %q: method %q: %w", req.Key, req.Method, filestore.ErrUnsupported)
	}
	if err != nil {
		return "", fmt.Errorf("presign %q: %w", req.Key, err)
	}
	return u.String(), nil
}

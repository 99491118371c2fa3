package config

import (
	"errors"
	"fmt"
	"strings"
)

// File store kinds and modes (the filestore section).
const (
	FileStoreS3     = "s3"
	FileStoreLocal  = "local"
	FileModeDirect  = "direct"
	FileModeProxy   = "proxy"
	defaultFileMode = FileModeDirect
)

// FileStore is where the files attached to envelopes live. A relay
// without it uses its parent's (main without it keeps a local store in
// data_dir/files). Keys are contracts.
type FileStore struct {
	// Kind is s3 (any S3-compatible service) or local (a directory served
	// by this relay). Required.
	Kind string `yaml:"kind"`
	// Endpoint is host:port of the S3 service, without scheme. s3 only.
	Endpoint string `yaml:"endpoint"`
	// Bucket must exist. s3 only.
	Bucket string `yaml:"bucket"`
	// AccessKey and SecretKey are the S3 credentials. s3 only.
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// Secure uses https to the object store. Default false.
	Secure bool `yaml:"secure"`
	// Mode is direct (clients get presigned URLs and move bytes without
	// the relay) or proxy (bytes stream through this relay). Default direct.
	Mode string `yaml:"mode"`
	// Dir is the directory of a local store. local only.
	Dir string `yaml:"dir"`
}

func (f *FileStore) validate() error {
	switch f.Mode {
	case "", FileModeDirect, FileModeProxy:
	default:
		return fmt.Errorf("filestore.mode %q is invalid: use direct or proxy", f.Mode)
	}
	switch f.Kind {
	case FileStoreS3:
		return f.validateS3()
	case FileStoreLocal:
		return f.validateLocal()
	case "":
		return errors.New("filestore.kind is required: use s3 or local")
	}
	return fmt.Errorf("filestore.kind %q is invalid: use s3 or local", f.Kind)
}

func (f *FileStore) validateS3() error {
	for _, k := range []struct{ key, v string }{
		{"filestore.endpoint", f.Endpoint}, {"filestore.bucket", f.Bucket},
		{"filestore.access_key", f.AccessKey}, {"filestore.secret_key", f.SecretKey},
	} {
		if k.v == "" {
			return fmt.Errorf("%s is required when filestore.kind is s3", k.key)
		}
	}
	if strings.Contains(f.Endpoint, "/") {
		return fmt.Errorf("filestore.endpoint %q is invalid: use HOST:PORT without scheme or path (set filestore.secure: true for https)", f.Endpoint)
	}
	if err := checkHostPort("filestore.endpoint", f.Endpoint); err != nil {
		return err
	}
	if f.Dir != "" {
		return errors.New("filestore.dir must not be set when filestore.kind is s3: it is for kind local")
	}
	return nil
}

func (f *FileStore) validateLocal() error {
	if f.Dir == "" {
		return errors.New("filestore.dir is required when filestore.kind is local: the directory that holds the files")
	}
	for _, k := range []struct{ key, v string }{
		{"filestore.endpoint", f.Endpoint}, {"filestore.bucket", f.Bucket},
		{"filestore.access_key", f.AccessKey}, {"filestore.secret_key", f.SecretKey},
	} {
		if k.v != "" {
			return fmt.Errorf("%s must not be set when filestore.kind is local: it is for kind s3", k.key)
		}
	}
	if f.Secure {
		return errors.New("filestore.secure must not be set when filestore.kind is local: it is for kind s3")
	}
	return nil
}

func (f *FileStore) fillDefaults() {
	if f.Mode == "" {
		f.Mode = defaultFileMode
	}
}

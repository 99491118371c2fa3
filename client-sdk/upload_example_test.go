package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	client "github.com/medrelay/medrelay/client-sdk"
)

// A gateway uploads many objects and announces them later in one envelope
// of its own; the receiver downloads each by its reference, verified.
func ExampleUploader() {
	r, stop := startRelay()
	defer stop()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "medrelay-upload-")
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "instance.dcm")
	os.WriteFile(src, []byte("DICM bytes of one instance"), 0o644)

	gw, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "gw-a"})
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	up, err := gw.NewUploader(ctx, client.TransferOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ref, err := up.Upload(ctx, src, "county-a/gw-a/studies/1.2.3/1.2.3.4.dcm", "application/dicom")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded", ref.Key, ref.Size, "bytes")

	viewer, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "gw-b"})
	if err != nil {
		log.Fatal(err)
	}
	defer viewer.Close()
	dst := filepath.Join(dir, "copy.dcm")
	if _, err := viewer.Download(ctx, ref, dst, nil, client.TransferOptions{}); err != nil {
		log.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	fmt.Printf("downloaded and verified: %s\n", b)
	// Output:
	// uploaded county-a/gw-a/studies/1.2.3/1.2.3.4.dcm 26 bytes
	// downloaded and verified: DICM bytes of one instance
}

package filestore_test

import (
	"testing"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// TestWriteFuzzSeeds writes object keys as the SDK names attachments
// (envelope id, part index, file name) and the gateway names studies (see
// internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	for name, key := range map[string]string{
		"sdk-attachment": "0193f1d2-3c4b-7a5e-8f00-00000000a001/0-study.zip",
		"sdk-renamed":    "0193f1d2-3c4b-7a5e-8f00-00000000a001/1-report_2026-11-30.pdf",
		"study-instance": "studies/1.2.826.0.1.3680043.8.498.10/1.2.826.0.1.3680043.8.498.11/1.2.826.0.1.3680043.8.498.12.dcm",
		"dot-dot":        "0193f1d2-3c4b-7a5e-8f00-00000000a001/../x",
	} {
		fuzzseed.Write(t, "FuzzValidateKey", name, key)
	}
}

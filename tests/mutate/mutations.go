package main

// mutation is one line of the product (or a few) broken on purpose, and
// the tests that must fail because of it.
type mutation struct {
	Name  string
	Why   string // the guarantee the tests claim
	Edits []edit
	// Tests are arguments of `go test -count=1`, one run each; the
	// mutation is caught when one of them fails.
	Tests []string
}

// edit replaces From, which must occur exactly once in File, with To.
type edit struct {
	File, From, To string
}

// mutations is the list `make mutate` checks. Name only tests that pass
// reliably: a flaky one stops the run at its baseline (relay's
// TestNodeRestartKeepsQueuedEnvelopes is left out for that reason). Add one for every guarantee
// a test is written for; a mutation that no longer applies is reported
// STALE and must be updated here.
var mutations = []mutation{
	{
		Name: "relay-dedupe-disabled",
		Why:  "an envelope id is enqueued at most once per relay",
		Edits: []edit{
			{"relay/route.go", "if dup {", "if false && dup {"},
		},
		Tests: []string{
			"./relay -run ^TestResentEnvelopeIsStoredOnce$",
			"./relay",
			"./tests -run ^TestKillNodeHoldingQueuedEnvelopesLosesNone$",
		},
	},
	{
		Name: "client-ack-before-journal-append",
		Why:  "a client's batch is acknowledged only once the intake journal holds it",
		Edits: []edit{
			{"relay/intake.go", "in.j.Append(encodeIntake(client, now, raws), func(seq uint64, err error) {",
				"done(nil); in.j.Append(encodeIntake(client, now, raws), func(seq uint64, err error) {"},
			{"relay/intake.go", "\t\tin.batches.Add(1)\n\t\tdone(nil)\n", "\t\tin.batches.Add(1)\n"},
		},
		Tests: []string{
			"./relay -run Journal",
			"./tests -run ^TestPowerCutLosesNoAcknowledgedEnvelope$",
			"./tests -run ^TestKillNodeHoldingQueuedEnvelopesLosesNone$",
		},
	},
	{
		Name: "child-ack-before-forwarded-commit",
		Why:  "a batch from a child relay is acknowledged only after it is committed",
		Edits: []edit{
			{"relay/route.go", "r.store.SubmitForwarded(func(tx *store.Tx) error { return r.storeInbound(tx, items, now) }, then)",
				"then(nil); r.store.SubmitForwarded(func(tx *store.Tx) error { return r.storeInbound(tx, items, now) }, func(error) {})"},
		},
		Tests: []string{
			"./relay -run ^TestMainRestartNeedsNoRestartOfNodesOrClients$",
			"./tests -run ^TestKillNodeHoldingQueuedEnvelopesLosesNone$",
		},
	},
	{
		Name: "journal-fdatasync-removed",
		Why:  "an acknowledged client batch survives a power cut",
		Edits: []edit{
			{"relay/journal/journal.go", "err = fdatasync(seg.f)", "err = nil"},
		},
		Tests: []string{
			"./relay/journal",
			"./tests -run ^TestPowerCutLosesNoAcknowledgedEnvelope$",
		},
	},
	{
		Name: "journal-segment-dir-sync-removed",
		Why:  "the journal's segment files themselves survive a power cut",
		Edits: []edit{
			{"relay/journal/journal.go", "return syncDir(filepath.Dir(f.Name()))", "return nil"},
		},
		Tests: []string{
			"./relay/journal",
			"./tests -run ^TestPowerCutLosesNoAcknowledgedEnvelope$",
		},
	},
	{
		Name: "store-bbolt-nosync",
		Why:  "a batch committed to bbolt survives a power cut",
		Edits: []edit{
			{"relay/store/store.go", "NoFreelistSync: true,", "NoFreelistSync: true, NoSync: true,"},
		},
		Tests: []string{
			"./relay/store",
			"./tests -run ^TestPowerCutLosesNoAcknowledgedEnvelope$",
		},
	},
	{
		Name: "store-done-before-commit",
		Why:  "a submission is reported done only after bbolt committed it",
		Edits: []edit{
			{"relay/store/store.go", "tx := &Tx{store: s,", "for _, r := range batch { r.finish(nil) }; tx := &Tx{store: s,"},
			{"relay/store/store.go", "r.finish(err)", "_ = r"},
		},
		Tests: []string{"./relay/store"},
	},
	{
		Name: "fetch-digest-not-checked",
		Why:  "the streaming Fetch refuses a file whose bytes differ from its digest",
		Edits: []edit{
			{"filestore/transfer/download.go", "hr := filestore.NewHashReader(&countingReader{r: rc, p: prog}, ref.Key, want, in.Size)",
				"_ = want; hr := filestore.NewHashReader(&countingReader{r: rc, p: prog}, ref.Key, \"\", in.Size)"},
		},
		Tests: []string{"./filestore/transfer -run Download|Fetch|Corrupt"},
	},
	{
		Name: "download-sha256-not-checked",
		Why:  "Download refuses a file whose bytes differ from its digest",
		Edits: []edit{
			{"filestore/transfer/download.go", "got != want {", "false && got != want {"},
		},
		Tests: []string{"./filestore/transfer -run Download|Fetch|Corrupt"},
	},
	{
		Name: "delivered-receipt-unasked",
		Why:  "only a sender that asks gets a DELIVERED receipt",
		Edits: []edit{
			{"relay/pump.go", "envelope.WantsReceipt(e.Raw, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {",
				"(true || envelope.WantsReceipt(e.Raw, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED)) {"},
		},
		Tests: []string{"./relay -run ^TestDeliveredReceipt$"},
	},
	{
		Name: "send-only-connection-receives",
		Why:  "a connection without receive never takes the client's inbox",
		Edits: []edit{
			{"relay/inbox.go", "\tif h.Receive {\n\t\tin.receivers = append(", "\tif true {\n\t\tin.receivers = append("},
		},
		Tests: []string{"./relay -run ^TestSendOnlyConnectionNeverTakesTheInbox$"},
	},
	{
		Name: "client-sender-not-checked",
		Why:  "a client cannot send in another client's or relay's name",
		Edits: []edit{
			{"relay/route.go", "if env.From.Relay != r.cfg.ID || env.From.Client != p.id {",
				"if false && (env.From.Relay != r.cfg.ID || env.From.Client != p.id) {"},
		},
		Tests: []string{"./relay -run ^TestClientClaimingAnothersFromIsRefused$"},
	},
	{
		Name: "signed-url-signature-not-checked",
		Why:  "a signed file URL works only as signed",
		Edits: []edit{
			{"filestore/filehttp/sign.go", "if !hmac.Equal([]byte(want), []byte(q.Get(paramSignature))) {",
				"if false && !hmac.Equal([]byte(want), []byte(q.Get(paramSignature))) {"},
		},
		Tests: []string{"./filestore/filehttp"},
	},
	{
		Name: "upload-state-part-count-overflows",
		Why:  "a damaged upload state file means starting over, never a broken upload",
		Edits: []edit{
			{"filestore/transfer/upload.go", "return int((size-1)/partSize + 1)", "return int((size + partSize - 1) / partSize)"},
			{"filestore/transfer/state.go", " ||\n\t\tpartCount(st.Size, st.PartSize) > filestore.MaxParts {", " {"},
		},
		Tests: []string{"./filestore/transfer -run FuzzLoadState"},
	},
	{
		Name: "config-error-shows-yaml-tags",
		Why:  "a config error names the key and what it wants, not yaml's tags",
		Edits: []edit{
			{"internal/yamlconf/yamlconf.go", "} else if g := wrongKind.FindStringSubmatch(m); g != nil {", "} else if g := wrongKind.FindStringSubmatch(m); g != nil && false {"},
		},
		Tests: []string{"./relay/config", "./gateway/config"},
	},
	{
		Name: "testenv-never-strict",
		Why:  "under CI (MEDRELAY_REQUIRE_TOOLS=1) a missing tool fails the test",
		Edits: []edit{
			{"internal/testenv/testenv.go", `return os.Getenv(EnvVar) == "1"`, `return os.Getenv(EnvVar) == "never"`},
		},
		Tests: []string{"./internal/testenv"},
	},
	{
		Name: "sdk-handled-record-ignored",
		Why:  "with Options.StateDir a handler sees an envelope once, also after a relay crash and a restart of the application",
		Edits: []edit{
			{"client-sdk/receive.go", "if c.seen.seen(env.Id) || c.handledBefore(env.Id) {", "if c.seen.seen(env.Id) {"},
		},
		Tests: []string{
			"./tests -run ^TestReceiverRestartAfterRelayKillHandlesOnce$",
		},
	},
}

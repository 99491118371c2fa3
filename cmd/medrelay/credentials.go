package main

import (
	"fmt"
	"io"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/auth"
)

// runCredentials: medrelay credentials add --file FILE --id ID
func runCredentials(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("%w: want medrelay credentials add --file FILE --id ID", errUsage)
	}
	fs := newFlags("credentials add", stderr)
	file := fs.String("file", "", "the credentials file (auth.credentials_file); created when missing")
	id := fs.String("id", "", "a client id, or a child relay's id")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" || *id == "" {
		return fmt.Errorf("%w: --file and --id are required", errUsage)
	}
	if !envelope.ValidID(*id) {
		return fmt.Errorf("%w: --id %q is invalid: use lower-case letters, digits and '-', at most 64 characters", errUsage, *id)
	}
	token, err := auth.Add(*file, *id)
	if err != nil {
		return fmt.Errorf("credentials add: %w", err)
	}
	fmt.Fprintln(stdout, token)
	return nil
}

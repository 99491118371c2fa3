package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/auth"
)

// runCredentials: medrelay credentials add --file FILE --id ID [--role client|relay|admin] [--subtree ID,...]
func runCredentials(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("%w: want medrelay credentials add --file FILE --id ID [--role client|relay|admin] [--subtree ID,...]", errUsage)
	}
	fs := newFlags("credentials add", stderr)
	file := fs.String("file", "", "the credentials file (auth.credentials_file); created when missing")
	id := fs.String("id", "", "a client id, a child relay's id, or an administrator's name")
	role := fs.String("role", "client", "client (sends and receives as itself), relay (a child relay link) or admin (the admin API)")
	subtree := fs.String("subtree", "", "role relay: the relays below it that it may announce, comma-separated (it may always announce itself)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" || *id == "" {
		return fmt.Errorf("%w: --file and --id are required", errUsage)
	}
	if !envelope.ValidID(*id) {
		return fmt.Errorf("%w: --id %q is invalid: use lower-case letters, digits and '-', at most 64 characters", errUsage, *id)
	}
	if !auth.ValidRole(*role) {
		return fmt.Errorf("%w: --role %q is invalid: use client, relay or admin", errUsage, *role)
	}
	sub := splitList(*subtree)
	if len(sub) > 0 && *role != string(auth.RoleRelay) {
		return fmt.Errorf("%w: --subtree is for --role relay (the relays a child relay may announce), not %s", errUsage, *role)
	}
	for _, s := range sub {
		if !envelope.ValidID(s) {
			return fmt.Errorf("%w: --subtree entry %q is not a relay id: use lower-case letters, digits and '-'", errUsage, s)
		}
	}
	token, err := auth.Add(*file, *id, auth.Role(*role), sub)
	if err != nil {
		return fmt.Errorf("credentials add: %w", err)
	}
	fmt.Fprintln(stdout, token)
	if *role == string(auth.RoleRelay) {
		fmt.Fprintf(stderr, "relay %s may announce: %s\n", *id, strings.Join(append([]string{*id}, sub...), ","))
	}
	return nil
}

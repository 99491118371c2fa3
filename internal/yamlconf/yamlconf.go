// Package yamlconf decodes the YAML configuration files of medrelay's
// binaries strictly (an unknown key is an error) and rewrites yaml.v3's
// messages into ones that name the line, the key and what would be right,
// so that a relay's and a gateway's config errors read alike.
//
// It knows nothing of any one file: each config package gives the text for
// an empty file and the names of its sections.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options describe one kind of config file.
type Options struct {
	// Empty is the error text for an empty file (say which keys are
	// required).
	Empty string
	// Section names the section a Go type decodes, e.g. "config.Listen"
	// → "listen". Default: the type's name in lower case, without its
	// package; "config.Config" is "the top level".
	Section func(goType string) string
}

// Decode decodes data into v strictly, returning an error that names the
// key for anything wrong.
func Decode(data []byte, v any, o Options) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return o.rewrite(err, data)
	}
	return nil
}

var (
	unknownField = regexp.MustCompile(`line (\d+): field (.*) not found in type (\S+)`)
	wrongType    = regexp.MustCompile("(?s)line (\\d+): cannot unmarshal !.*? `(.*)` into (\\S+)")
	wrongKind    = regexp.MustCompile(`(?s)line (\d+): cannot unmarshal (!.*?) into (\S+)$`)
)

// rewrite turns yaml.v3's messages into ones that name the key.
func (o Options) rewrite(err error, data []byte) error {
	if errors.Is(err, io.EOF) {
		return errors.New(o.Empty)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			if g := unknownField.FindStringSubmatch(m); g != nil {
				m = fmt.Sprintf("line %s: unknown key %q in %s (check its spelling and indentation)", g[1], g[2], o.section(g[3]))
			} else if g := wrongType.FindStringSubmatch(m); g != nil {
				m = fmt.Sprintf("line %s: %s: %q is not %s", g[1], keyAt(data, g[1]), g[2], o.typeName(g[3]))
			} else if g := wrongKind.FindStringSubmatch(m); g != nil {
				m = fmt.Sprintf("line %s: %s: %s is not %s", g[1], keyAt(data, g[1]), kindName(g[2]), o.typeName(g[3]))
			}
			msgs = append(msgs, m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if bytes.Contains(data, []byte("\t")) && (strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab character")) {
		msg += " (indent with spaces: YAML does not allow tabs)"
	}
	return fmt.Errorf("config is not valid YAML: %s", msg)
}

// kindName names a YAML node's tag as yaml.v3 reports it (!!map, !!seq...).
func kindName(kind string) string {
	switch kind {
	case "!!map":
		return "a section of keys"
	case "!!seq":
		return "a list"
	case "!!str":
		return "a string"
	}
	return "a value"
}

// keyAt returns the key on a line (numbered from 1) of a YAML document.
func keyAt(data []byte, line string) string {
	n, _ := strconv.Atoi(line)
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return "a value"
	}
	key, _, _ := strings.Cut(strings.TrimLeft(lines[n-1], " -{"), ":")
	return strings.TrimSpace(key)
}

// typeName says in words what a Go type wants.
func (o Options) typeName(goType string) string {
	switch goType {
	case "bool":
		return "true or false"
	case "int", "int64", "uint64":
		return "a whole number"
	case "time.Duration":
		return "a duration like 90s or 1h"
	case "string":
		return "a string"
	}
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a section of keys"
	case strings.HasPrefix(goType, "config."), strings.HasPrefix(goType, "*config."):
		return "a section of keys (" + o.section(strings.TrimPrefix(goType, "*")) + ")"
	}
	return "a " + goType
}

func (o Options) section(goType string) string {
	if goType == "config.Config" {
		return "the top level"
	}
	if o.Section != nil {
		if s := o.Section(goType); s != "" {
			return s
		}
	}
	return strings.ToLower(strings.TrimPrefix(goType, "config."))
}

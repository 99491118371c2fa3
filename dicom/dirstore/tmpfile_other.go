//go:build !linux || !(amd64 || arm64 || riscv64 || loong64)

package dirstore

import (
	"errors"
	"os"
)

var errNoTmpFile = errors.New("unnamed files not supported here")

func openTmpFile(string) (*os.File, error)       { return nil, errNoTmpFile }
func linkTmpFile(*os.File, string, string) error { return errNoTmpFile }
func probeTmpFile(string) bool                   { return false }

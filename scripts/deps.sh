#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: Debian's protoc,
# dcmtk, curl, chromium (the web consoles' browser tests) and fuse3
# (fusermount, for the power-loss test), the pinned
# protoc-gen-go and the pinned MinIO server. Safe to run again: it does
# nothing when everything is present.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
command -v storescu >/dev/null 2>&1 || need_apt+=(dcmtk)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v fusermount3 >/dev/null 2>&1 || command -v fusermount >/dev/null 2>&1 || need_apt+=(fuse3)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${need_apt[*]}; run as root or: apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  echo "deps: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! protoc-gen-go --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_VERSION}"; then
  echo "deps: installing protoc-gen-go ${PROTOC_GEN_GO_VERSION}"
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
fi

if ! command -v minio >/dev/null 2>&1; then
  echo "deps: installing the pinned MinIO server (takes a few minutes on a new machine)"
  go install "github.com/minio/minio@${MINIO_VERSION}"
fi

package miniotest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills MinIO if the test binary dies without stopping it.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Where Tekton mounts workspaces, and where its working-dir initializer puts a relative workingDir
// (cmd/workingdirinit/main.go at v1.15.0 runs with this as its working directory).
const workspaceDir = "/workspace"

// PATH_MAX (include/uapi/linux/limits.h), the terminating NUL included.
const pathMax = 4096

// What a workingDir is called in messages.
const whereWorkdir = "the working directory (workingDir)"

// enterWorkdir makes dir the working directory of this process (and so of the command it becomes); "" leaves it as it
// is. text is the workingDir as the step wrote it, for messages. A directory that does not exist is created (0755), as
// Tekton's working-dir initializer (under /workspace) and the container runtime (anywhere else) would have, but as the
// step's user.
func enterWorkdir(dir, text string) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(workspaceDir, dir)
	}
	if len(dir)+1 > pathMax {
		return fmt.Errorf("the working directory (workingDir %q) would be %d bytes with its results substituted; Linux takes "+
			"paths of at most %d bytes (PATH_MAX), so the step cannot run there", truncate(text), len(dir), pathMax-1)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		hint := ""
		if errno := cause(err); errno == syscall.EACCES || errno == syscall.EPERM || errno == syscall.EROFS {
			// The runtime would have made it as root before the step's user and a read-only root applied.
			hint = fmt.Sprintf("; it is created as the step's user (uid %d), after the container started: make it "+
				"under a workspace or a directory that user may write", os.Getuid())
		}
		return fmt.Errorf("cannot create the working directory %q (workingDir %q, its results substituted): %v%s", truncate(dir), truncate(text), cause(err), hint)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("cannot change into the working directory %q (workingDir %q, its results substituted): %v", truncate(dir), truncate(text), cause(err))
	}
	return nil
}

// cause is the system error under a *PathError (its path is already in the message).
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		var errno syscall.Errno
		if errors.As(pe.Err, &errno) {
			return errno
		}
		return pe.Err
	}
	return err
}

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// The result volume as this container sees it (init/volume-view.ts): at root either the volume's root (view
// "volume") or the run's directory (view "run").
type volume struct {
	root   string
	runDir string
	view   string
}

// locate is the reference's path below root: `<runDir>/<task>/<result>` on the volume.
func (v volume) locate(ref reference) (string, error) {
	first, rest, ok := strings.Cut(ref.path, "/")
	if !ok || first != v.runDir {
		return "", fmt.Errorf("reference to %s points outside this run's directory: expected a path starting with %q", ref.path, v.runDir+"/")
	}
	if v.view == "run" {
		return rest, nil
	}
	return ref.path, nil
}

// openChecked opens a referenced file after every check init/verified-result.ts makes before the first byte: no
// symlink from the root down, a regular file with one link, exactly the reference's size. The caller closes it.
func openChecked(v volume, ref reference) (*os.File, string, error) {
	rel, err := v.locate(ref)
	if err != nil {
		return nil, "", err
	}
	subject := "reference to " + ref.path
	full := path.Join(v.root, rel)
	root, err := os.OpenRoot(v.root)
	if err != nil {
		return nil, "", fmt.Errorf("%s: cannot open the result volume at %s: %v (is the result workspace mounted in this step?)", subject, v.root, err)
	}
	defer root.Close()
	segments := strings.Split(rel, "/")
	for i := range segments {
		prefix := strings.Join(segments[:i+1], "/")
		info, err := root.Lstat(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: %s does not exist; the producing task sealed it, but it is no longer on the result volume (deleted, or another volume is mounted)", subject, full)
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %v", subject, err)
		}
		last := i == len(segments)-1
		if !last && !info.IsDir() {
			return nil, "", fmt.Errorf("%s: %s is a %s, expected a directory; the directories on the result volume must be real directories, not links", subject, path.Join(v.root, prefix), kind(info))
		}
		if last {
			if err := singleRegular(info, full, subject); err != nil {
				return nil, "", err
			}
		}
	}
	// O_NONBLOCK: a file swapped for a named pipe after the checks above must not block the open (fstat refuses it).
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", subject, err)
	}
	info, err := f.Stat()
	if err == nil {
		err = singleRegular(info, full, subject)
	}
	if err == nil && info.Size() != ref.size {
		err = mismatch(full, ref, fmt.Sprintf("%d bytes", info.Size()))
	}
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return f, full, nil
}

// readVerified reads a referenced file whole, verified: the checks of openChecked, nothing past its size, and its
// sha256. Values go into argv and the environment, so they are small (the kernel takes at most 128 KiB per string):
// read whole, then hashed.
func readVerified(v volume, ref reference, limit int64) ([]byte, error) {
	if ref.size > limit {
		return nil, fmt.Errorf("reference to %s: %d bytes, over the %d bytes a value passed to a command may take; nothing was read", ref.path, ref.size, limit)
	}
	f, full, err := openChecked(v, ref)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, ref.size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("reference to %s: reading %s: %v", ref.path, full, err)
	}
	if err := requireEnd(f, full, ref); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if found := hex.EncodeToString(sum[:]); found != ref.sha256 {
		return nil, mismatch(full, ref, fmt.Sprintf("sha256 %s and %d bytes", found, len(data)))
	}
	return data, nil
}

// readSelected streams a referenced structured value (any size), hashing it, and returns the selected element's
// decoded bytes (at most limit). The digest is checked first: a value that is not what was sealed is reported as
// such, whatever its JSON.
func readSelected(v volume, s selection, limit int) ([]byte, error) {
	f, full, err := openChecked(v, s.ref)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	subject := fmt.Sprintf("result %q of task %q (%s)", s.ref.result, s.ref.task, full)
	reader := newStructuredReader(s.sel, subject, limit)
	hash := sha256.New()
	buf := make([]byte, 256*1024)
	var shapeErr error
	var read int64
	for read < s.ref.size {
		want := min(int64(len(buf)), s.ref.size-read)
		n, err := io.ReadFull(f, buf[:want])
		hash.Write(buf[:n])
		if shapeErr == nil {
			shapeErr = reader.push(buf[:n])
		}
		read += int64(n)
		if err != nil {
			return nil, fmt.Errorf("reference to %s: reading %s: %v", s.ref.path, full, err)
		}
	}
	if err := requireEnd(f, full, s.ref); err != nil {
		return nil, err
	}
	if found := hex.EncodeToString(hash.Sum(nil)); found != s.ref.sha256 {
		return nil, mismatch(full, s.ref, fmt.Sprintf("sha256 %s and %d bytes", found, read))
	}
	if shapeErr == nil {
		shapeErr = reader.end()
	}
	if shapeErr != nil {
		return nil, shapeErr
	}
	if reader.overLimit {
		return nil, fmt.Errorf("element %s of %s is more than %d bytes; Linux passes at most %d bytes per argument or environment "+
			"variable (MAX_ARG_STRLEN), so the step's command cannot be started. Use the result by path "+
			"($(tasks.%s.results.%s.path): the step reads the file) for values this large", s.sel, subject, limit, maxArgStrlen, s.ref.task, s.ref.result)
	}
	return reader.out, nil
}

// requireEnd refuses a file with bytes past the reference's size (it grew after it was checked).
func requireEnd(f *os.File, full string, ref reference) error {
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("result file %s does not match its reference: expected %d bytes, found more (it grew while it was being read). Something still writes to it after the producing task sealed it", full, ref.size)
	}
	return nil
}

func singleRegular(info fs.FileInfo, full, subject string) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is a %s, expected a regular file", subject, full, kind(info))
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		return fmt.Errorf("%s: %s has %d hard links, expected 1; a hard-linked file can be changed through its other names", subject, full, st.Nlink)
	}
	return nil
}

func kind(info fs.FileInfo) string {
	switch m := info.Mode(); {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}

func mismatch(full string, ref reference, found string) error {
	return fmt.Errorf("result file %s does not match its reference: expected sha256 %s and %d bytes, found %s; the file was changed after the producing task sealed it", full, ref.sha256, ref.size, found)
}

package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A declared reference: the token as it appears in the pod and what it names on the result volume.
type reference struct {
	token  string
	task   string
	result string
	sha256 string
	size   int64
	path   string
}

// The v1 reference, as src/core/reference.ts writes it, after its label `<task>/<result>=` (init/refs-text.ts).
var labelled = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)=(\[\[tlr:v1:sha256=([0-9a-f]{64}):size=(0|[1-9][0-9]{0,15}):path=([A-Za-z0-9._/-]+)\]\])$`)

// parseRefs reads TLR_REFS (the consumer's tlr-refs param as Tekton substituted it): labelled references separated
// by whitespace, each naming its own result's file `<runDir>/<task>/<result>`. Anything else is refused: a producer
// that published more than its reference, or a reference to another result's file (see init/refs-text.ts).
//
// labels (env TLR_REF_LABELS, literal text the rewrite wrote) are the labels of text, in order: with them, text must be
// exactly those items, each one reference, so a producer that spliced another label and reference into what it
// published is refused.
func parseRefs(text, runDir, labels string) ([]reference, error) {
	var refs []reference
	seen := map[string]bool{}
	items := strings.Fields(text)
	if want := strings.Fields(labels); len(want) > 0 {
		if len(items) != len(want) {
			return nil, fmt.Errorf("the references this task uses (env TLR_REFS): expected %d item(s) (%s), found %d: a producing task published more than its own reference; refusing it", len(want), labels, len(items))
		}
		for i, item := range items {
			if !strings.HasPrefix(item, want[i]+"=") {
				return nil, fmt.Errorf("the references this task uses (env TLR_REFS): expected item %d to be %s=<its reference>, found %q; refusing it", i+1, want[i], truncate(item))
			}
		}
	}
	for _, item := range items {
		m := labelled.FindStringSubmatch(item)
		if m == nil {
			shown := truncate(item)
			return nil, fmt.Errorf("the references this task uses (env TLR_REFS) must be <task>/<result>=[[tlr:v1:…]] "+
				"separated by spaces, found %q: a producing task published something else than its reference, or this task "+
				"was not rewritten by Tekton Large Results", shown)
		}
		r := reference{token: m[3], task: m[1], result: m[2], sha256: m[4], path: m[6]}
		r.size, _ = strconv.ParseInt(m[5], 10, 64)
		if len(r.path) > 1024 {
			return nil, fmt.Errorf("the references this task uses (env TLR_REFS): %s: path longer than 1024 bytes; refusing to read it", r.token)
		}
		if err := checkRelative(r.path); err != nil {
			return nil, fmt.Errorf("the references this task uses (env TLR_REFS): %s: %v; refusing to read it", r.token, err)
		}
		if want := runDir + "/" + r.task + "/" + r.result; r.path != want {
			return nil, fmt.Errorf("result %q of task %q is a reference to %s, expected its own file %s: that task published "+
				"a reference it did not seal; refusing to read another result's file for it (%s)", r.result, r.task, r.path, want, r.token)
		}
		if !seen[r.token] {
			seen[r.token] = true
			refs = append(refs, r)
		}
	}
	return refs, nil
}

// checkRelative refuses what src/core/reference.ts checkRelativePath refuses: absolute paths, empty, `.` or `..`
// segments, a trailing slash.
func checkRelative(path string) error {
	if path == "" || strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q must be relative to the result volume", path)
	}
	for _, s := range strings.Split(path, "/") {
		if s == "" || s == "." || s == ".." {
			return fmt.Errorf("path %q has an empty, \".\" or \"..\" segment", path)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

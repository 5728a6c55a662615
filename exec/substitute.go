package main

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
)

// An environment as execve takes it, in order.
type environment []string

func (e environment) get(name string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Where a value went, for messages.
type use struct {
	ref   reference
	where string
}

// prepare substitutes the declared references in argv, in every environment value but ours (TLR_*) and in the working
// directory, each string scanned once; reads each referenced value once, verified; refuses a value the kernel cannot
// pass.
func prepare(opts options, environ []string) ([]string, environment, string, error) {
	env := environment(environ)
	refsText, _ := env.get(envRefs)
	runDir, _ := env.get(envRunDir)
	view, _ := env.get(envView)
	labels, _ := env.get(envRefLabels)
	selectors, _ := env.get(envSelectors)
	if view == "" {
		view = "volume"
	}
	refs, err := parseRefs(refsText, runDir, labels)
	if err != nil {
		return nil, nil, "", err
	}
	selections, err := parseSelections(selectors, refs)
	if err != nil {
		return nil, nil, "", err
	}
	s := &substituter{refs: refs, selections: selections, vol: volume{root: opts.root, runDir: runDir, view: view}, values: map[string][]byte{}}
	argv := make([]string, len(opts.command))
	for i, a := range opts.command {
		if argv[i], err = s.substitute(a, fmt.Sprintf("argument %d of the command", i)); err != nil {
			return nil, nil, "", err
		}
	}
	out := make(environment, len(env))
	for i, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == envRefs || name == envRunDir || name == envView || name == envRefLabels || name == envSelectors {
			out[i] = kv
			continue
		}
		v, err := s.substitute(value, "environment variable "+name)
		if err != nil {
			return nil, nil, "", err
		}
		out[i] = name + "=" + v
	}
	dir, err := s.substitute(opts.workdir, whereWorkdir)
	if err != nil {
		return nil, nil, "", err
	}
	return argv, out, dir, nil
}

type substituter struct {
	refs       []reference
	selections []selection
	vol        volume
	values     map[string][]byte
}

// MAX_ARG_STRLEN (include/uapi/linux/binfmts.h): 32 pages, the terminating NUL included.
const maxArgStrlen = 32 * 4096

// substitute replaces every declared token in text, left to right; the values put in are not scanned again.
func (s *substituter) substitute(text, where string) (string, error) {
	if len(s.refs) == 0 || !strings.Contains(text, "[[tlr:") {
		return text, nil
	}
	var out bytes.Buffer
	var used []use
	rest := text
	for {
		at := strings.Index(rest, "[[tlr:")
		if at < 0 {
			break
		}
		token, ref, sel, ok := s.tokenAt(rest[at:])
		if !ok {
			out.WriteString(rest[:at+len("[[tlr:")])
			rest = rest[at+len("[[tlr:"):]
			continue
		}
		var value []byte
		var err error
		if sel != nil {
			value, err = s.element(*sel, where)
		} else {
			value, err = s.value(ref, where)
		}
		if err != nil {
			return "", err
		}
		out.WriteString(rest[:at])
		out.Write(value)
		rest = rest[at+len(token):]
		used = append(used, use{ref, where})
	}
	if len(used) == 0 {
		return text, nil
	}
	out.WriteString(rest)
	result := out.String()
	length := len(result) + 1
	if strings.HasPrefix(where, "environment variable ") {
		length += len(strings.TrimPrefix(where, "environment variable ")) + 1
	}
	if where == whereWorkdir {
		return result, nil // its own limit, PATH_MAX, is checked where it is entered (workdir.go)
	}
	if length > maxArgStrlen {
		return "", fmt.Errorf("%s would be %d bytes with %s substituted; Linux passes at most %d bytes per argument or "+
			"environment variable (MAX_ARG_STRLEN, its name and terminating NUL included), so the step's command cannot be "+
			"started. Use the result by path ($(tasks.%s.results.%s.path): the step reads the file) for values this large",
			where, length, describeUses(used), maxArgStrlen, used[0].ref.task, used[0].ref.result)
	}
	return result, nil
}

// tokenAt is the declared token text starts with: a reference, or a selector token around one.
func (s *substituter) tokenAt(text string) (string, reference, *selection, bool) {
	for i, sel := range s.selections {
		if strings.HasPrefix(text, sel.token) {
			return sel.token, sel.ref, &s.selections[i], true
		}
	}
	for _, r := range s.refs {
		if strings.HasPrefix(text, r.token) {
			return r.token, r, nil, true
		}
	}
	return "", reference{}, nil, false
}

// element is the selected element of a structured result, verified (the whole value is read and hashed, whatever
// its size: only the element has to fit in a string the kernel passes).
func (s *substituter) element(sel selection, where string) ([]byte, error) {
	if v, ok := s.values[sel.token]; ok {
		return v, nil
	}
	v, err := readSelected(s.vol, sel, maxArgStrlen)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		return nil, fmt.Errorf("element %s of result %q of task %q has a NUL byte at offset %d, which no argument or environment "+
			"variable can hold (Linux ends each at the first NUL), so %s cannot carry it. Use the result by path "+
			"($(tasks.%s.results.%s.path)) for binary values", sel.sel, sel.ref.result, sel.ref.task, i, where, sel.ref.task, sel.ref.result)
	}
	s.values[sel.token] = v
	return v, nil
}

func (s *substituter) value(ref reference, where string) ([]byte, error) {
	if v, ok := s.values[ref.token]; ok {
		return v, nil
	}
	if where == whereWorkdir && ref.size >= pathMax {
		return nil, fmt.Errorf("%s would take result %q of task %q, %d bytes; Linux takes paths of at most %d bytes "+
			"(PATH_MAX), so the step cannot run there", where, ref.result, ref.task, ref.size, pathMax-1)
	}
	if ref.size >= maxArgStrlen {
		return nil, fmt.Errorf("%s would take result %q of task %q, %d bytes; Linux passes at most %d bytes per argument or "+
			"environment variable (MAX_ARG_STRLEN), so the step's command cannot be started. Use the result by path "+
			"($(tasks.%s.results.%s.path): the step reads the file) for values this large", where, ref.result, ref.task,
			ref.size, maxArgStrlen, ref.task, ref.result)
	}
	v, err := readVerified(s.vol, ref, maxArgStrlen)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		return nil, fmt.Errorf("result %q of task %q has a NUL byte at offset %d, which no argument or environment variable "+
			"can hold (Linux ends each at the first NUL), so %s cannot carry it. Use the result by path "+
			"($(tasks.%s.results.%s.path)) for binary values", ref.result, ref.task, i, where, ref.task, ref.result)
	}
	s.values[ref.token] = v
	return v, nil
}

func describeUses(used []use) string {
	seen := map[string]bool{}
	var parts []string
	for _, u := range used {
		if seen[u.ref.token] {
			continue
		}
		seen[u.ref.token] = true
		parts = append(parts, fmt.Sprintf("result %q of task %q (%d bytes)", u.ref.result, u.ref.task, u.ref.size))
	}
	return strings.Join(parts, ", ")
}

// checkExecLimits refuses, before execve, what the kernel would refuse with E2BIG (fs/exec.c bprm_stack_limits):
// the strings of the file name, argv and envp, each with its NUL, plus a pointer for each, must fit in a quarter of
// the stack limit (ulimit -s), at most 6 MiB and at least 128 KiB.
func checkExecLimits(path string, argv []string, env environment) error {
	strs, ptrs := sizes(path, argv, env)
	limit := execLimit()
	if strs+ptrs <= limit {
		return nil
	}
	return fmt.Errorf("the step's command with its results substituted would need %s; Linux passes at most %d bytes to a "+
		"command (a quarter of the stack limit, ulimit -s, at most 6 MiB), so it cannot be started. Use large results by "+
		"path ($(tasks.<task>.results.<result>.path): the step reads the file)", totalsText(path, argv, env), limit)
}

func sizes(path string, argv []string, env environment) (strs, ptrs int) {
	strs = len(path) + 1
	for _, a := range argv {
		strs += len(a) + 1
	}
	for _, e := range env {
		strs += len(e) + 1
	}
	return strs, 8 * (len(argv) + len(env))
}

func totalsText(path string, argv []string, env environment) string {
	strs, ptrs := sizes(path, argv, env)
	var argBytes, envBytes int
	for _, a := range argv {
		argBytes += len(a) + 1
	}
	for _, e := range env {
		envBytes += len(e) + 1
	}
	return fmt.Sprintf("%d bytes (arguments %d, environment %d, pointers %d)", strs+ptrs, argBytes, envBytes, ptrs)
}

func execLimit() int {
	const argMax = 128 * 1024
	const maxLimit = 6 * 1024 * 1024
	limit := maxLimit
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_STACK, &rl) == nil && rl.Cur/4 < uint64(maxLimit) {
		limit = int(rl.Cur / 4)
	}
	if limit < argMax {
		limit = argMax
	}
	return limit
}

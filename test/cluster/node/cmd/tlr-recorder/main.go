// Command tlr-recorder stands in for a catalog Task's programs on the test cluster: the recorder image has it at every
// path the catalog's steps run (their commands, their scripts' interpreters), so a Task runs unchanged but for its
// images, and each step writes to its log exactly what it was started with: its argv, its working directory, its
// environment and the contents of the scripts its argv names (Tekton's /tekton/scripts/…). The test runs the Task
// twice, once with a param's value given inline (stock Tekton substitutes it) and once fed from a reference result,
// and compares the two records: equal means the Task got the value exactly as Tekton would have given it.
//
// The record is one JSON object, base64-encoded (every byte survives, non-UTF-8 included), written in lines of at most
// 3000 characters between a begin and an end marker (container runtimes split long log lines). As a sidecar (the
// container's first process: no Tekton entrypoint above it) it records and then waits to be stopped; as a step it
// exits 0.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const (
	begin     = "tlr-recorder-begin"
	end       = "tlr-recorder-end"
	lineWidth = 3000
	// Tekton writes steps' scripts here and passes their paths in argv (pkg/pod/script.go).
	scriptsDir = "/tekton/scripts/"
)

type record struct {
	Argv []string          `json:"argv"`
	Cwd  string            `json:"cwd"`
	Env  map[string]string `json:"env"`
	// Scripts by the argv element that named them.
	Scripts map[string]string `json:"scripts"`
	Errors  []string          `json:"errors,omitempty"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func main() {
	r := record{Env: map[string]string{}, Scripts: map[string]string{}}
	for _, a := range os.Args {
		r.Argv = append(r.Argv, b64(a))
		if strings.HasPrefix(a, scriptsDir) {
			content, err := os.ReadFile(a)
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
				continue
			}
			r.Scripts[b64(a)] = b64(string(content))
		}
	}
	if cwd, err := os.Getwd(); err == nil {
		r.Cwd = b64(cwd)
	} else {
		r.Errors = append(r.Errors, err.Error())
	}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		r.Env[name] = b64(value)
	}
	text, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlr-recorder:", err)
		os.Exit(1)
	}
	encoded := base64.StdEncoding.EncodeToString(text)
	var out strings.Builder
	out.WriteString(begin + "\n")
	for len(encoded) > 0 {
		n := min(lineWidth, len(encoded))
		out.WriteString(encoded[:n] + "\n")
		encoded = encoded[n:]
	}
	out.WriteString(end + "\n")
	if _, err := os.Stdout.WriteString(out.String()); err != nil {
		os.Exit(1)
	}
	if os.Getpid() == 1 {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		<-signals
	}
}

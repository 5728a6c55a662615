// tlr-exec runs a Tekton step's command with the reference results its arguments and environment carry replaced by
// their values: the step's `args`, `command` and `env` hold reference tokens when the pod starts (Tekton substituted
// `$(tasks.<t>.results.<r>)` with the result it recorded, a small reference), and this helper, run by Tekton's
// entrypoint in place of the step's command, reads each referenced file from the read-only result view, checks its
// size and sha256, substitutes the bytes and execs the command. A static binary with no dependency: the Pod webhook
// copies it into an emptyDir through the tlr-substitute init container, so it runs in any image, `scratch` included.
//
// Only references the task declared (env TLR_REFS, labelled `<task>/<result>=`) are acted on; every string is
// scanned once and the values put in are never scanned again, so no value can bring in another token, a `$(…)`
// (the kubelet expanded those before the container started, on the tokens) or a second argument. A value that cannot
// be passed (a NUL byte, over the kernel's 128 KiB per string, or all of them over its total) fails the step before
// its command runs, with the sizes and the limit, on the step's stderr (its log). Exit codes: 1 refused, 2 usage;
// otherwise the command's own (this process becomes it).
//
// With --workdir, the step's workingDir held a reference: the helper substitutes it like an argument, then creates the
// directory if it is missing (as the step's user: Tekton's working-dir initializer and the container runtime, which
// would have made it, create it as root before the container starts) and changes into it before the command runs; a
// relative one is taken under /workspace, as Tekton's initializer takes it. Empty once substituted, the step stays
// where the image put it, as with no workingDir at all.
//
// Usage: tlr-exec --root <mountPath> [--platform-commands] [--workdir <dir>] -- <command> [<arg>…]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
)

const (
	exitRefused = 1
	exitUsage   = 2
	envRefs     = "TLR_REFS"
	envRunDir   = "TLR_RUN_DIR"
	envView     = "TLR_VIEW"
	// The labels of TLR_REFS, in order, as the rewrite wrote them (nothing substituted into them).
	envRefLabels = "TLR_REF_LABELS"
	// The elements of structured results the task uses (literal `<task>/<result>.key` / `[i]` items).
	envSelectors = "TLR_SELECTORS"
	// Tekton's entrypoint reads the image's command from here when the step names none (cmd/entrypoint/main.go).
	envPlatformCommands = "TEKTON_PLATFORM_COMMANDS"
)

type options struct {
	root             string
	platformCommands bool
	// The step's workingDir, tokens and all, when it carried a reference; "" when none did.
	workdir string
	command []string
}

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fail(exitUsage, err)
	}
	if opts.platformCommands {
		command, err := platformCommand(os.Getenv(envPlatformCommands))
		if err != nil {
			fail(exitRefused, err)
		}
		opts.command = append(command, opts.command...)
	}
	if len(opts.command) == 0 {
		fail(exitUsage, fmt.Errorf("no command to run: expected tlr-exec --root <dir> -- <command> [<arg>…]"))
	}
	argv, env, dir, err := prepare(opts, os.Environ())
	if err != nil {
		fail(exitRefused, err)
	}
	if err := enterWorkdir(dir, opts.workdir); err != nil {
		fail(exitRefused, err)
	}
	path, err := lookPath(argv[0], env)
	if err != nil {
		fail(exitRefused, err)
	}
	if err := checkExecLimits(path, argv, env); err != nil {
		fail(exitRefused, err)
	}
	err = syscall.Exec(path, argv, []string(env))
	if err == syscall.E2BIG {
		err = fmt.Errorf("the kernel refused to start %s: its arguments and environment are too large (E2BIG), %s", path, totalsText(path, argv, env))
	}
	fail(exitRefused, fmt.Errorf("cannot run %s: %v", argv[0], err))
}

func parseArgs(args []string) (options, error) {
	var opts options
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			opts.command = args[i+1:]
			if opts.root == "" {
				return opts, fmt.Errorf("--root <dir> (where the result workspace is mounted) is required")
			}
			return opts, nil
		case a == "--root" && i+1 < len(args):
			opts.root = args[i+1]
			i++
		case strings.HasPrefix(a, "--root="):
			opts.root = strings.TrimPrefix(a, "--root=")
		case a == "--platform-commands":
			opts.platformCommands = true
		case a == "--workdir" && i+1 < len(args):
			opts.workdir = args[i+1]
			i++
		default:
			return opts, fmt.Errorf("unknown option %q: expected --root <dir>, --platform-commands, --workdir <dir>, then -- <command> [<arg>…]", a)
		}
	}
	return opts, fmt.Errorf("expected -- before the command: tlr-exec --root <dir> -- <command> [<arg>…]")
}

// platformCommand picks the image's command for this platform as Tekton's entrypoint does (exact os/arch/variant,
// then without the variant).
func platformCommand(text string) ([]string, error) {
	var cmds map[string][]string
	if err := json.Unmarshal([]byte(text), &cmds); err != nil {
		return nil, fmt.Errorf("env %s (the image's command, which Tekton looked up) is not a JSON map of platform to command: %v", envPlatformCommands, err)
	}
	plat := runtime.GOOS + "/" + runtime.GOARCH
	if variant := cpuVariant(); variant != "" {
		if cmd, ok := cmds[plat+"/"+variant]; ok {
			return cmd, nil
		}
	}
	if cmd, ok := cmds[plat]; ok {
		return cmd, nil
	}
	return nil, fmt.Errorf("env %s has no command for platform %s (it has %d others): the step's image was not built for it", envPlatformCommands, plat, len(cmds))
}

func cpuVariant() string {
	switch runtime.GOARCH {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	}
	return ""
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "tlr-exec: error: %v\n", err)
	os.Exit(code)
}

// lookPath finds the command as Tekton's entrypoint would (exec.LookPath on the container's PATH).
func lookPath(name string, env environment) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if p, ok := env.get("PATH"); ok {
		os.Setenv("PATH", p)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("cannot run %q: %v", name, err)
	}
	return path, nil
}

//go:build tools

// Package tools pins Tekton Pipelines v1.15.0's commands so `go build` can build them from the Go module proxy
// (`go install github.com/tektoncd/pipeline/cmd/...@v1.15.0` fails there: the proxy refuses the version list that
// `go install` asks for). Nothing here is Tekton's code: the binaries are Tekton's own mains, unchanged.
package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/controller"
	_ "github.com/tektoncd/pipeline/cmd/entrypoint"
	_ "github.com/tektoncd/pipeline/cmd/events"
	_ "github.com/tektoncd/pipeline/cmd/nop"
	_ "github.com/tektoncd/pipeline/cmd/resolvers"
	_ "github.com/tektoncd/pipeline/cmd/sidecarlogresults"
	_ "github.com/tektoncd/pipeline/cmd/webhook"
	_ "github.com/tektoncd/pipeline/cmd/workingdirinit"
)

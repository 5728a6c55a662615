module github.com/tekton-large-results/tlr-exec

go 1.24

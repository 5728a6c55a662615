// Command pause is the test node's sandbox ("pause") process: the first process of every pod, which holds the pod's
// namespaces. It sleeps until SIGINT or SIGTERM and, as PID 1 of a shared PID namespace, reaps zombies. It does what
// registry.k8s.io/pause does (a C program upstream), written in Go so it builds from the module proxy with the rest.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

//go:build tools

// Package tools pins the Kubernetes CSI sidecar built from the Go module proxy for the test cluster: the real
// external-provisioner (its upstream main, unchanged), which turns PVCs of the test StorageClasses into CSI
// CreateVolume calls on ./cmd/tlr-csi-hostpath. ./cmd/pause is the pods' sandbox process.
package tools

import (
	_ "github.com/kubernetes-csi/external-provisioner/v5/cmd/csi-provisioner"
)

// Command tlr-csi-hostpath is a small CSI driver for the test cluster: volumes are directories under --data-root on
// the node, published into pods by bind mount, exactly as the Kubernetes CSI reference driver
// (kubernetes-csi/csi-driver-host-path) does for its "mount" volumes. It exists because that driver and its
// node-driver-registrar are not served by the Go module proxy these machines can reach (docs/testing.md); everything
// around it is the real thing: the kubelet's CSI volume plugin (which applies fsGroup according to the CSIDriver
// object's fsGroupPolicy), the real external-provisioner, the PV controller and WaitForFirstConsumer binding.
//
// One process serves the CSI Identity, Controller and Node services on --endpoint and the kubelet's plugin
// registration API (what node-driver-registrar does) on --registration-dir/<name>-reg.sock.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// TopologyKey is the node label the kubelet sets from NodeGetInfo; PVs get node affinity on it.
const TopologyKey = "topology.hostpath.csi.tlr.dev/node"

var (
	name            = flag.String("name", "hostpath.csi.tlr.dev", "CSI driver name (the CSIDriver object and StorageClass provisioner)")
	endpoint        = flag.String("endpoint", "", "unix socket path to serve CSI on")
	dataRoot        = flag.String("data-root", "", "directory holding one subdirectory per volume")
	nodeID          = flag.String("node-id", "", "the Kubernetes node name")
	registrationDir = flag.String("registration-dir", "", "the kubelet's plugins_registry directory; empty: do not register (controller only)")
	version         = "v0.1.0"
	// CSI volume names from external-provisioner are "pvc-<uid>"; anything that could leave --data-root is refused.
	safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
	mu sync.Mutex // serialises volume operations, so concurrent retries of one request cannot race
}

type registrar struct {
	registration.UnimplementedRegistrationServer
}

func main() {
	flag.Parse()
	if *endpoint == "" || *dataRoot == "" || *nodeID == "" {
		log.Fatal("--endpoint, --data-root and --node-id are required")
	}
	if err := os.MkdirAll(*dataRoot, 0o750); err != nil {
		log.Fatalf("creating --data-root: %v", err)
	}
	d := &driver{}
	servers := []*grpc.Server{}
	csiServer := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(csiServer, d)
	csi.RegisterControllerServer(csiServer, d)
	csi.RegisterNodeServer(csiServer, d)
	serve(csiServer, *endpoint)
	servers = append(servers, csiServer)
	if *registrationDir != "" {
		regServer := grpc.NewServer()
		registration.RegisterRegistrationServer(regServer, &registrar{})
		serve(regServer, filepath.Join(*registrationDir, *name+"-reg.sock"))
		servers = append(servers, regServer)
	}
	log.Printf("Serving CSI driver %s on %s (node %s, data %s)", *name, *endpoint, *nodeID, *dataRoot)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	for _, s := range servers {
		s.GracefulStop()
	}
}

func serve(server *grpc.Server, socket string) {
	if err := os.MkdirAll(filepath.Dir(socket), 0o750); err != nil {
		log.Fatalf("creating %s: %v", filepath.Dir(socket), err)
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Fatalf("removing stale socket %s: %v", socket, err)
	}
	listener, err := net.Listen("unix", socket)
	if err != nil {
		log.Fatalf("listening on %s: %v", socket, err)
	}
	go func() {
		if err := server.Serve(listener); err != nil {
			log.Fatalf("serving %s: %v", socket, err)
		}
	}()
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		log.Printf("%s failed: %v", info.FullMethod, err)
	} else if !strings.Contains(info.FullMethod, "Probe") && !strings.Contains(info.FullMethod, "GetCapabilities") {
		log.Printf("%s ok", info.FullMethod)
	}
	return resp, err
}

// ---- registration (what node-driver-registrar does) ----

func (registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type: registration.CSIPlugin, Name: *name, Endpoint: *endpoint, SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if !s.PluginRegistered {
		log.Printf("The kubelet refused the registration: %s", s.Error)
	} else {
		log.Printf("Registered with the kubelet")
	}
	return &registration.RegistrationStatusResponse{}, nil
}

// ---- identity ----

func (*driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: *name, VendorVersion: version}, nil
}

func (*driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	service := func(t csi.PluginCapability_Service_Type) *csi.PluginCapability {
		return &csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: t}}}
	}
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{
		service(csi.PluginCapability_Service_CONTROLLER_SERVICE),
		service(csi.PluginCapability_Service_VOLUME_ACCESSIBILITY_CONSTRAINTS),
	}}, nil
}

func (*driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// ---- controller ----

func (*driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: []*csi.ControllerServiceCapability{{
		Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{
			Type: csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		}},
	}}}, nil
}

func volumePath(id string) (string, error) {
	if !safeID.MatchString(id) {
		return "", status.Errorf(codes.InvalidArgument, "volume id %q is not a plain name", id)
	}
	return filepath.Join(*dataRoot, id), nil
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range req.GetVolumeCapabilities() {
		if c.GetBlock() != nil {
			return nil, status.Error(codes.InvalidArgument, "block volumes are not supported, only mount")
		}
	}
	if err := d.checkTopology(req.GetAccessibilityRequirements()); err != nil {
		return nil, err
	}
	path, err := volumePath(req.GetName())
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// As the reference driver: MkdirAll(path, 0777) under the process umask, so a new volume's root is root-owned
	// and, with umask 022, mode 0755.
	if err := os.MkdirAll(path, 0o777); err != nil {
		return nil, status.Errorf(codes.Internal, "creating %s: %v", path, err)
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:           req.GetName(),
		CapacityBytes:      req.GetCapacityRange().GetRequiredBytes(),
		AccessibleTopology: []*csi.Topology{{Segments: map[string]string{TopologyKey: *nodeID}}},
	}}, nil
}

// checkTopology refuses a request that can only be met on another node (this driver stores data on its own node).
func (*driver) checkTopology(req *csi.TopologyRequirement) error {
	if req == nil || len(req.GetRequisite()) == 0 {
		return nil
	}
	for _, t := range req.GetRequisite() {
		if t.GetSegments()[TopologyKey] == *nodeID {
			return nil
		}
	}
	return status.Errorf(codes.ResourceExhausted, "this driver instance serves node %s only", *nodeID)
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	path, err := volumePath(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.RemoveAll(path); err != nil {
		return nil, status.Errorf(codes.Internal, "removing %s: %v", path, err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (*driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	path, err := volumePath(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities(),
	}}, nil
}

// ---- node ----

func (*driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{
		NodeId:             *nodeID,
		AccessibleTopology: &csi.Topology{Segments: map[string]string{TopologyKey: *nodeID}},
	}, nil
}

func (*driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if target == "" || req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "target path and volume capability are required")
	}
	if req.GetVolumeCapability().GetMount() == nil {
		return nil, status.Error(codes.InvalidArgument, "only mount volumes are supported")
	}
	source, err := volumePath(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(source); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if mounted, err := isMountPoint(target); err != nil {
		return nil, status.Errorf(codes.Internal, "checking %s: %v", target, err)
	} else if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "creating %s: %v", target, err)
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind-mounting %s on %s: %v", source, target, err)
	}
	if req.GetReadonly() {
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
		if err := unix.Mount("", target, "", flags, ""); err != nil {
			_ = unix.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "remounting %s read-only: %v", target, err)
		}
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "target path is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		mounted, err := isMountPoint(target)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "checking %s: %v", target, err)
		}
		if !mounted {
			break
		}
		if err := unix.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmounting %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Errorf(codes.Internal, "removing %s: %v", target, err)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// isMountPoint reads /proc/self/mountinfo: a bind mount of a directory on the same filesystem has the same device
// number as its parent, so stat cannot tell.
func isMountPoint(path string) (bool, error) {
	clean := filepath.Clean(path)
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == clean {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) the kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

package main

// One demo app server per forwarded pod port, started on the first connection and kept until
// it idles out, the container restarts or the pod goes. The shim owns the listening Unix socket
// (in a root-only directory, so a pod can never plant a symlink the shim would then dial) and
// hands its descriptor into the jail; every later connection costs a fork, not a jail start.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

type demoServer struct {
	socket string
	done   chan struct{}
}

func (s *demoServer) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (r *podRegistry) socketDir() (string, error) {
	dir := filepath.Join(r.stateDir, ".sockets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o700)
}

// demoStartedMarker, in the pod's root-owned directory, tells the prober (also after a shim
// restart) that the pod has demo state worth probing.
const demoStartedMarker = "demo-started"

// demoConn connects to the pod port's demo server, starting it when none runs.
func (r *podRegistry) demoConn(ctx context.Context, p *pod, dir, container string, port int32, logFile string) (net.Conn, error) {
	key := p.Metadata.UID + "-" + strconv.Itoa(int(port))
	r.demoMu.Lock()
	server := r.demos[key]
	if server == nil || !server.alive() {
		var err error
		server, err = r.startDemo(key, p, dir, container, port, logFile)
		if err != nil {
			r.demoMu.Unlock()
			return nil, err
		}
		r.demos[key] = server
	}
	r.demoMu.Unlock()
	var d net.Dialer
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.DialContext(dialCtx, "unix", server.socket)
}

// startDemo runs with r.demoMu held.
func (r *podRegistry) startDemo(key string, p *pod, dir, container string, port int32, logFile string) (*demoServer, error) {
	sockets, err := r.socketDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(sockets, key+".sock")
	_ = os.Remove(path)
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	listener.SetUnlinkOnClose(false)
	file, err := listener.File()
	_ = listener.Close()
	if err != nil {
		return nil, err
	}
	// Not tied to the request: the server outlives the connection that started it.
	args := []string{"--port", strconv.Itoa(int(port)), "--listen-fd", "3"}
	run, err := r.helper(context.Background(), p, dir, "serve-demo", container, "demo",
		memoryLimit(p.container(container)), args, file)
	if err != nil {
		file.Close()
		_ = os.Remove(path)
		return nil, err
	}
	stderr := r.logWriter(p.Metadata.UID, logFile)
	run.cmd.Stderr = stderr
	if err := run.cmd.Start(); err != nil {
		run.release()
		return nil, fmt.Errorf("starting the demo app: %w", err)
	}
	run.closeFiles() // the listening socket is the server's now: refused once it is gone
	_ = writeFile(filepath.Join(dir, demoStartedMarker), nil, 0o600)
	server := &demoServer{socket: path, done: make(chan struct{})}
	go func() {
		_ = r.run(p.Metadata.UID, run.cmd)
		run.release()
		_ = stderr.Close()
		_ = os.Remove(path)
		close(server.done)
	}()
	return server, nil
}

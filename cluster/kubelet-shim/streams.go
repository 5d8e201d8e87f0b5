package main

// The streaming verbs (exec, attach, port-forward) on top of k8s.io/cri-streaming, which speaks
// SPDY and websockets with the API server exactly as the kubelet does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

const (
	idleTimeout           = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

func routes(pods *podRegistry) http.Handler {
	rt := &streamRuntime{pods: pods}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", pods.serveLogs)
	mux.HandleFunc("GET /metrics/nodes/{node}/metrics/resource", pods.serveResourceMetrics)
	for _, method := range []string{"GET", "POST"} {
		mux.HandleFunc(method+" /exec/{ns}/{pod}/{container}", rt.serveExec)
		mux.HandleFunc(method+" /attach/{ns}/{pod}/{container}", rt.serveAttach)
		mux.HandleFunc(method+" /portForward/{ns}/{pod}", rt.servePortForward)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "kubelab's simulated kubelet does not serve "+r.URL.Path, http.StatusNotFound)
	})
	return mux
}

type streamRuntime struct{ pods *podRegistry }

// The name handed through cri-streaming is "namespace/pod".
func splitName(name string) (string, string) {
	ns, pod, _ := strings.Cut(name, "/")
	return ns, pod
}

func (rt *streamRuntime) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command given", http.StatusBadRequest)
		return
	}
	name := r.PathValue("ns") + "/" + r.PathValue("pod")
	remotecommand.ServeExec(w, r, rt, name, "", r.PathValue("container"), cmd, opts,
		idleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (rt *streamRuntime) serveAttach(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("ns") + "/" + r.PathValue("pod")
	remotecommand.ServeAttach(w, r, rt, name, "", r.PathValue("container"), opts,
		idleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (rt *streamRuntime) servePortForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("ns") + "/" + r.PathValue("pod")
	portforward.ServePortForward(w, r, rt, name, "", opts, idleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// ExecInContainer runs cmd in a jail shaped like the container (podsim/podjail.py builds it
// as the pod's uid; privileged.go has every root step before that).
func (rt *streamRuntime) ExecInContainer(ctx context.Context, name, _, container string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go cancelWhenClientGone(cancel, out, errOut)
	p, dir, err := rt.pods.runningContainer(ctx, name, container)
	if err != nil {
		return err
	}
	var args []string
	if tty {
		args = append(args, "--tty")
	}
	args = append(append(args, "--"), cmd...)
	run, err := rt.pods.helper(ctx, p, dir, "exec", container, "helper", memoryLimit(p.container(container)), args)
	if err != nil {
		return err
	}
	defer run.release()
	if tty {
		err = rt.pods.runWithTTY(p.Metadata.UID, run.cmd, in, out, resize)
	} else {
		err = rt.pods.runWithPipes(p.Metadata.UID, run.cmd, in, out, errOut)
	}
	return exitError(err)
}

// cancelWhenClientGone cancels once the client's connection is gone. The request's context is
// not cancelled then (the connection was hijacked for SPDY), so without this an exec whose
// kubectl went away would run on, holding one of its namespace's exec slots, with nobody left
// to see or stop it. The client never writes to its output streams: a read on one returns only
// when the connection closes.
func cancelWhenClientGone(cancel context.CancelFunc, streams ...io.Writer) {
	for _, stream := range streams {
		if r, ok := stream.(io.Reader); ok && stream != nil {
			_, _ = io.Copy(io.Discard, r)
			cancel()
			return
		}
	}
}

// exitError turns the helper's exit status into the one kubectl reports ("command terminated
// with exit code N"); the helper exits with the jailed command's status.
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			code = 137
		}
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return err
}

func (r *podRegistry) runWithPipes(uid string, c *exec.Cmd, in io.Reader, out, errOut io.Writer) error {
	if in != nil {
		// A pipe of our own: exec.Cmd would otherwise wait for `in` to reach EOF after the
		// command has exited, and a client may keep stdin open forever.
		stdin, err := c.StdinPipe()
		if err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	c.Stdout, c.Stderr = out, errOut
	return r.run(uid, c)
}

func (r *podRegistry) runWithTTY(uid string, c *exec.Cmd, in io.Reader, out io.Writer,
	resize <-chan remotecommand.TerminalSize,
) error {
	master, slave, err := pty.Open()
	if err != nil {
		return err
	}
	defer master.Close()
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	err = c.Start()
	_ = slave.Close()
	if err != nil {
		return err
	}
	if resize != nil {
		go func() {
			for size := range resize {
				_ = pty.Setsize(master, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}()
	}
	if in != nil {
		go func() { _, _ = io.Copy(master, in) }()
	}
	var drained sync.WaitGroup
	drained.Add(1)
	go func() {
		defer drained.Done()
		_, _ = io.Copy(out, master) // ends with EIO once every holder of the slave is gone
	}()
	err = r.run(uid, c)
	waitTimeout(&drained, 2*time.Second)
	return err
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// AttachContainer shows the container's output as it is written, which is all a simulated
// container has to attach to; stdin is read and dropped.
func (rt *streamRuntime) AttachContainer(ctx context.Context, name, _, container string, in io.Reader,
	out, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go cancelWhenClientGone(cancel, out)
	p, dir, err := rt.pods.runningContainer(ctx, name, container)
	if err != nil {
		return err
	}
	if in != nil {
		go func() { _, _ = io.Copy(io.Discard, in) }()
	}
	if out == nil {
		<-ctx.Done()
		return nil
	}
	file, err := rt.pods.ensureLog(ctx, p, dir, container, false)
	if err != nil {
		return err
	}
	return rt.pods.follow(ctx, p, container, file, out, logOptions{tail: 0, follow: true}, true)
}

// PortForward answers every containerPort a pod declares with kubelab's demo app, run for that
// pod in its jail and speaking HTTP over the forwarded stream itself: nothing listens anywhere.
func (rt *streamRuntime) PortForward(ctx context.Context, name, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	ns, podName := splitName(name)
	p, raw, err := rt.pods.fetchRunning(ctx, ns, podName)
	if err != nil {
		return err
	}
	container := p.containerWithPort(port)
	if container == "" {
		return fmt.Errorf("pod %s declares no TCP containerPort %d, so nothing answers there "+
			"(kubelab's simulated containers serve the ports they declare)", p.ref(), port)
	}
	dir, err := rt.pods.prepare(ctx, p, raw)
	if err != nil {
		return err
	}
	file, _, err := rt.pods.ensureLogAsync(ctx, p, dir, container, false)
	if err != nil {
		return err
	}
	conn, err := rt.pods.demoConn(ctx, p, dir, container, port, file)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The request flows in until the client ends it (a half-close reaches the app as EOF); the
	// answer flows back until the app closes the connection or the client goes.
	go func() {
		_, _ = io.Copy(conn, stream)
		if uc, ok := conn.(*net.UnixConn); ok {
			_ = uc.CloseWrite()
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	_, _ = io.Copy(stream, conn)
	return nil
}

package main

// kuard MemQ workers. kwok completes Job pods as soon as they run; a Job pod whose kuard is a
// MemQ worker (--keygen-enable with --keygen-memq-server=http://SERVICE:PORT/memq/server) is left
// Running by stages.yaml and worked here, as the book's work-queue chapter expects: the worker
// takes messages off the queue until it is empty, then the pod Succeeds and the Job controller
// counts it.
//
// Root's part is only the plumbing a kubelet and cluster DNS would do: find the Service the URL
// names, *in the worker pod's own namespace* (any other host is refused: nothing here ever
// dials a pod or Service IP), pick a ready Pod behind it from its EndpointSlices, open a
// connection to that Pod's demo app (as port-forward does), and hand the connection to the
// worker (podsim/memqworker.py), which runs in a jail as the worker pod's uid and reads every
// answer. Workers count against the namespace's exec cap.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

const memqReconnect = 75 // podsim/memqworker.py: the connection failed, connect again

type memqWorkers struct {
	pods *podRegistry
	loop *perPod
}

func newMemqWorkers(r *podRegistry) *memqWorkers {
	return &memqWorkers{pods: r, loop: newPerPod()}
}

// memqWorker is the container that is a kuard MemQ worker and its server URL, or "".
// A worker told to fail (--keygen-exit-code other than 0) is left to kwok's failing stages.
func memqWorker(p *pod) (container, server string) {
	job := false
	for _, o := range p.Metadata.OwnerReferences {
		job = job || o.Kind == "Job"
	}
	if !job {
		return "", ""
	}
	for i := range p.Spec.Containers {
		k := keygenFlags(&p.Spec.Containers[i])
		failing := k.exitCode != "" && k.exitCode != "0"
		if k.enable && k.memqServer != "" && !failing {
			return p.Spec.Containers[i].Name, k.memqServer
		}
	}
	return "", ""
}

func (w *memqWorkers) run(ctx context.Context) {
	workers := func() []*pod {
		var out []*pod
		for _, p := range w.pods.runningPods() {
			if container, _ := memqWorker(p); container != "" {
				out = append(out, p)
			}
		}
		return out
	}
	w.loop.run(ctx, workers, func(ctx context.Context, p *pod) {
		container, server := memqWorker(p)
		w.work(ctx, p, container, server)
	})
}

// work runs the worker until the queue is empty, connecting again (after a second, as kuard
// retries) whenever the queue cannot be reached; it stops when the pod stops running.
func (w *memqWorkers) work(ctx context.Context, seen *pod, container, server string) {
	r := w.pods
	for ctx.Err() == nil {
		if _, ok := r.lookup(seen.Metadata.UID); !ok {
			return
		}
		p, raw, err := r.fetchRunning(ctx, seen.Metadata.Namespace, seen.Metadata.Name)
		if err != nil || p.Metadata.UID != seen.Metadata.UID {
			return
		}
		dir, err := r.prepare(ctx, p, raw)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		logFile, err := r.ensureLog(ctx, p, dir, container, false)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		code, err := w.once(ctx, p, dir, container, server, logFile)
		if err == nil && code == 0 {
			if err := w.succeed(ctx, p, container); err != nil {
				r.appendLog(p.Metadata.UID, logFile, "(kubelab: could not report the pod Succeeded: "+err.Error()+")")
				sleep(ctx, 2*time.Second)
				continue
			}
			return
		}
		if err != nil {
			r.appendLog(p.Metadata.UID, logFile, fmt.Sprintf("(ID 0) Error talking to server: %v. Retrying after 1s.", err))
		}
		sleep(ctx, time.Second)
	}
}

// once connects to the queue and runs the worker over that connection; its exit code.
func (w *memqWorkers) once(ctx context.Context, p *pod, dir, container, server, logFile string) (int, error) {
	r := w.pods
	conn, err := w.dialQueue(ctx, p.Metadata.Namespace, server)
	if err != nil {
		return 0, err
	}
	unix, ok := conn.(*net.UnixConn)
	if !ok {
		conn.Close()
		return 0, errors.New("unexpected connection type")
	}
	file, err := unix.File() // a duplicate: the worker's end
	conn.Close()
	if err != nil {
		return 0, err
	}
	run, err := r.helper(ctx, p, dir, "memq-worker", container, "helper",
		memoryLimit(p.container(container)), []string{"--conn-fd", "3"}, file)
	if err != nil {
		file.Close()
		return 0, err
	}
	out := r.logWriter(p.Metadata.UID, logFile)
	defer out.Close()
	run.cmd.Stdout, run.cmd.Stderr = out, out
	if err := run.cmd.Start(); err != nil {
		run.release()
		return 0, fmt.Errorf("starting the MemQ worker: %w", err)
	}
	run.closeFiles()
	err = r.run(p.Metadata.UID, run.cmd)
	run.release()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() == memqReconnect {
			return memqReconnect, nil
		}
		return exit.ExitCode(), fmt.Errorf("the worker ended with code %d", exit.ExitCode())
	}
	return 0, err
}

// memqTarget is the Service a MemQ server URL names, which must be in the worker's namespace.
func memqTarget(server, namespace string) (service string, port int32, err error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" {
		return "", 0, fmt.Errorf("--keygen-memq-server %q is not an http:// URL", server)
	}
	labels := strings.Split(strings.TrimSuffix(u.Hostname(), "."), ".")
	own := []string{labels[0], namespace, "svc", "cluster", "local"}
	if len(labels) > len(own) || strings.Join(labels, ".") != strings.Join(own[:len(labels)], ".") {
		return "", 0, fmt.Errorf("%s is not a Service in namespace %s (kubelab's workers reach "+
			"Services of their own namespace by name, never an address)", u.Hostname(), namespace)
	}
	port = 80
	if s := u.Port(); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("bad port in %q", server)
		}
		port = int32(n)
	}
	return labels[0], port, nil
}

// dialQueue connects to the demo app of a ready Pod behind the URL's Service port.
func (w *memqWorkers) dialQueue(ctx context.Context, namespace, server string) (net.Conn, error) {
	r := w.pods
	service, port, err := memqTarget(server, namespace)
	if err != nil {
		return nil, err
	}
	var svc struct {
		Spec struct {
			Ports []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/services/%s", url.PathEscape(namespace), url.PathEscape(service))
	if err := r.api.get(ctx, path, &svc); err != nil {
		if err == errNotFound {
			return nil, fmt.Errorf("dial tcp: lookup %s: no such host", service)
		}
		return nil, err
	}
	portName, found := "", false
	for _, sp := range svc.Spec.Ports {
		if sp.Port == port {
			portName, found = sp.Name, true
		}
	}
	if !found {
		return nil, fmt.Errorf("dial tcp %s:%d: connect: connection refused (the Service has no port %d)", service, port, port)
	}
	var slices struct {
		Items []struct {
			Ports []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"ports"`
			Endpoints []struct {
				Conditions struct {
					Ready *bool `json:"ready"`
				} `json:"conditions"`
				TargetRef *struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"targetRef"`
			} `json:"endpoints"`
		} `json:"items"`
	}
	q := url.Values{"labelSelector": {"kubernetes.io/service-name=" + service}}
	path = fmt.Sprintf("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?%s", url.PathEscape(namespace), q.Encode())
	if err := r.api.get(ctx, path, &slices); err != nil {
		return nil, err
	}
	for _, slice := range slices.Items {
		target := int32(0)
		for _, sp := range slice.Ports {
			if sp.Name == portName {
				target = sp.Port
			}
		}
		if target == 0 {
			continue
		}
		for _, ep := range slice.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			qp, qraw, err := r.fetchRunning(ctx, namespace, ep.TargetRef.Name)
			if err != nil {
				continue
			}
			qcontainer := qp.containerWithPort(target)
			if qcontainer == "" {
				continue
			}
			qdir, err := r.prepare(ctx, qp, qraw)
			if err != nil {
				return nil, err
			}
			qlog, done, err := r.ensureLogAsync(ctx, qp, qdir, qcontainer, false)
			if err != nil {
				return nil, err
			}
			conn, err := r.demoConn(ctx, qp, qdir, qcontainer, target, qlog)
			if werr := <-done; werr != nil && err == nil {
				err = werr
			}
			return conn, err
		}
	}
	return nil, fmt.Errorf("dial tcp %s:%d: connect: connection refused (no ready Pod behind the Service)", service, port)
}

// succeed reports the worker's container terminated with 0 and the pod Succeeded, as a kubelet
// would once kuard exited.
func (w *memqWorkers) succeed(ctx context.Context, p *pod, container string) error {
	now := time.Now().UTC().Format(time.RFC3339)
	var statuses []map[string]any
	for _, s := range p.Status.ContainerStatuses {
		entry := map[string]any{}
		for k, v := range rawContainerStatus(p, s.Name) {
			entry[k] = v
		}
		started := now
		if s.State.Running != nil {
			started = s.State.Running.StartedAt
		}
		entry["name"], entry["ready"], entry["started"] = s.Name, false, false
		entry["state"] = map[string]any{"terminated": map[string]any{
			"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now,
		}}
		statuses = append(statuses, entry)
	}
	condition := func(kind string) map[string]any {
		return map[string]any{"type": kind, "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
	}
	return w.pods.api.patchStatus(ctx, p.Metadata.Namespace, p.Metadata.Name, map[string]any{"status": map[string]any{
		"phase":             "Succeeded",
		"conditions":        []map[string]any{condition("Ready"), condition("ContainersReady")},
		"containerStatuses": statuses,
	}})
}

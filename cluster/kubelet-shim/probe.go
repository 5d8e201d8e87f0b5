package main

// Simulated probes. kwok runs no kubelet, so nothing would ever probe a pod. The demo app keeps
// its health in the pod's state directory (see podsim/demostate.py); once a learner flips
// /healthy or /ready to fail through port-forward, this prober acts as the kubelet would for
// containers whose liveness or readiness probe is an HTTP GET of that path on a declared port:
// after periodSeconds x failureThreshold a failing liveness probe restarts the container (new
// restartCount, lastState, events, logs and container files start over) and a failing readiness
// probe marks the pod not Ready, which takes it out of its Services' endpoints.

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"regexp"
	"syscall"
	"time"
)

type probe struct {
	HTTPGet *struct {
		Path string          `json:"path"`
		Port json.RawMessage `json:"port"`
	} `json:"httpGet"`
	InitialDelaySeconds int `json:"initialDelaySeconds"`
	PeriodSeconds       int `json:"periodSeconds"`
	FailureThreshold    int `json:"failureThreshold"`
}

func (p *probe) period() time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

func (p *probe) threshold() int {
	if p.FailureThreshold <= 0 {
		return 3
	}
	return p.FailureThreshold
}

func (p *probe) window() time.Duration { return time.Duration(p.threshold()) * p.period() }

// probeState is the part of the demo app's state.json the prober reads.
type probeState struct {
	Failing      bool     `json:"failing"`
	FailingSince *float64 `json:"failing_since"`
	// kuard's failNext (PUT /healthy/api): the next N probes fail, N < 0 every one. The app
	// cannot see these probes and this prober may not write into the pod's files, so both count
	// them the same way: one every periodSeconds from FailNextSince (podsim/probeapi.py).
	FailNext      int      `json:"fail_next"`
	FailNextSince *float64 `json:"fail_next_since"`
}

type demoState struct {
	Generation int          `json:"generation"` // the container's restarts when it was written
	Healthy    probeState   `json:"healthy"`
	Ready      probeState   `json:"ready"`
	Keygen     *keygenState `json:"keygen"` // metrics.go
	Memory     struct {
		AllocatedBytes int64 `json:"allocated_bytes"`
	} `json:"memory"`
}

// prober probes each pod on its own: a slow API call for one pod never delays another's.
type prober struct {
	pods *podRegistry
	loop *perPod
}

func newProber(r *podRegistry) *prober { return &prober{pods: r, loop: newPerPod()} }

func (pr *prober) run(ctx context.Context) { pr.loop.run(ctx, pr.pods.snapshot, pr.check) }

const demoStateMaxBytes = 64 << 10

// readState reads a container's demo state from the pod's tree, the way root may read there:
// beneath the tree, through no link, never blocking, regular files only (privileged.go). A
// state written by an earlier instance of the container counts as no state.
func readState(dir, container string, generation int) (demoState, bool) {
	var st demoState
	if !namePattern.MatchString(container) {
		return st, false
	}
	data, err := readBeneath(dir, "demo/"+container+"/state.json", demoStateMaxBytes)
	if err != nil || json.Unmarshal(data, &st) != nil || st.Generation != generation {
		return demoState{}, false
	}
	return st, true
}

// Container names are DNS labels (the API server checks); they become a path component here.
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// probeFails: the probe targets a path the demo app can fail, and it has failed for the window.
func probeFails(pr *probe, c *podContainer, st demoState, now time.Time) bool {
	if pr == nil || pr.HTTPGet == nil || !declaresPort(c, pr.HTTPGet.Port) {
		return false
	}
	var s probeState
	switch pr.HTTPGet.Path {
	case "/healthy":
		s = st.Healthy
	case "/ready":
		s = st.Ready
	default:
		return false
	}
	if failNextFails(pr, s, now) {
		return true
	}
	if !s.Failing || s.FailingSince == nil {
		return false
	}
	since := time.Unix(0, int64(*s.FailingSince*1e9))
	return now.Sub(since) >= pr.window()
}

// failNextFails: probes come at 0, period, 2 x period... after failNext was set and the first
// N fail, so the probe counts as failing from the failureThreshold-th of them and passes again
// at the (N+1)-th; an N below the threshold never trips it, as on a real kubelet.
func failNextFails(pr *probe, s probeState, now time.Time) bool {
	if s.FailNext == 0 || s.FailNextSince == nil {
		return false
	}
	elapsed := now.Sub(time.Unix(0, int64(*s.FailNextSince*1e9)))
	if elapsed < time.Duration(pr.threshold()-1)*pr.period() {
		return false
	}
	return s.FailNext < 0 || elapsed < time.Duration(s.FailNext)*pr.period()
}

func declaresPort(c *podContainer, port json.RawMessage) bool {
	var number int32
	var name string
	if json.Unmarshal(port, &number) != nil && json.Unmarshal(port, &name) != nil {
		return false
	}
	for _, p := range c.Ports {
		if (number != 0 && p.ContainerPort == number) || (name != "" && p.Name == name) {
			return true
		}
	}
	return false
}

func (pr *prober) check(ctx context.Context, p *pod) {
	dir := pr.pods.dir(p.Metadata.UID)
	now := time.Now()
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		status := p.status(c.Name)
		if status.State.Running == nil {
			continue
		}
		st, ok := readState(dir, c.Name, status.RestartCount)
		if !ok {
			continue
		}
		if probeFails(c.LivenessProbe, c, st, now) {
			if err := pr.restart(ctx, p, c); err != nil {
				log.Printf("liveness restart of %s/%s: %v", p.ref(), c.Name, err)
			}
			return // the pod object is stale now; the watch brings the new one
		}
		failing := probeFails(c.ReadinessProbe, c, st, now)
		if c.ReadinessProbe != nil && failing == status.Ready {
			if err := pr.setReady(ctx, p, c.Name, !failing); err != nil {
				log.Printf("readiness of %s/%s: %v", p.ref(), c.Name, err)
			}
			return
		}
	}
}

func (pr *prober) restart(ctx context.Context, p *pod, c *podContainer) error {
	r := pr.pods
	uid := p.Metadata.UID
	now := time.Now().UTC().Format(time.RFC3339)
	var statuses []map[string]any
	for _, s := range p.Status.ContainerStatuses {
		entry := map[string]any{"name": s.Name, "restartCount": s.RestartCount, "ready": s.Ready}
		raw := rawContainerStatus(p, s.Name)
		for k, v := range raw {
			if _, set := entry[k]; !set {
				entry[k] = v
			}
		}
		if s.Name == c.Name {
			started := now
			if s.State.Running != nil {
				started = s.State.Running.StartedAt
			}
			entry["restartCount"] = s.RestartCount + 1
			entry["lastState"] = map[string]any{"terminated": map[string]any{
				"exitCode": 2, "reason": "Error", "startedAt": started, "finishedAt": now,
			}}
			entry["state"] = map[string]any{"running": map[string]any{"startedAt": now}}
		}
		statuses = append(statuses, entry)
	}
	// Logged before the restart, so it ends the instance that failed.
	file := logPath(r.dir(uid), c.Name, p.status(c.Name).RestartCount)
	if _, err := os.Stat(file); err == nil {
		r.appendLog(uid, file, "Received signal terminated; shutting down (liveness probe failed)")
	}
	if err := r.api.patchStatus(ctx, p.Metadata.Namespace, p.Metadata.Name,
		map[string]any{"status": map[string]any{"containerStatuses": statuses}}); err != nil {
		return err
	}
	// A restarted container loses its processes and its own files; emptyDir volumes stay. Root
	// removes nothing in the pod's tree: the new restart count gives the container a new root
	// (the builder removes the old one) and makes the old demo state count as none.
	r.signal(uid, syscall.SIGTERM)
	window := c.LivenessProbe.window()
	pr.event(ctx, p, c.Name, "Warning", "Unhealthy",
		fmt.Sprintf("Liveness probe failed: HTTP probe failed with statuscode: 500 (for %s)", window))
	pr.event(ctx, p, c.Name, "Normal", "Killing",
		fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name))
	pr.event(ctx, p, c.Name, "Normal", "Started", "Started container "+c.Name)
	return nil
}

func rawContainerStatus(p *pod, name string) map[string]any {
	for _, s := range p.rawStatuses {
		if s["name"] == name {
			return s
		}
	}
	return nil
}

func (pr *prober) setReady(ctx context.Context, p *pod, container string, ready bool) error {
	now := time.Now().UTC().Format(time.RFC3339)
	status, reason, message := "True", "", ""
	if !ready {
		status, reason = "False", "ContainersNotReady"
		message = fmt.Sprintf("containers with unready status: [%s]", container)
	}
	var statuses []map[string]any
	for _, s := range p.Status.ContainerStatuses {
		entry := rawContainerStatus(p, s.Name)
		if entry == nil {
			continue
		}
		if s.Name == container {
			entry["ready"] = ready
		}
		statuses = append(statuses, entry)
	}
	conditions := []map[string]any{}
	for _, t := range []string{"Ready", "ContainersReady"} {
		conditions = append(conditions, map[string]any{
			"type": t, "status": status, "reason": reason, "message": message, "lastTransitionTime": now,
		})
	}
	patch := map[string]any{"status": map[string]any{"conditions": conditions, "containerStatuses": statuses}}
	if err := pr.pods.api.patchStatus(ctx, p.Metadata.Namespace, p.Metadata.Name, patch); err != nil {
		return err
	}
	if !ready {
		pr.event(ctx, p, container, "Warning", "Unhealthy",
			"Readiness probe failed: HTTP probe failed with statuscode: 500")
	}
	return nil
}

func (pr *prober) event(ctx context.Context, p *pod, container, kind, reason, message string) {
	now := time.Now().UTC().Format(time.RFC3339)
	ev := map[string]any{
		"metadata": map[string]any{"generateName": p.Metadata.Name + "."},
		"involvedObject": map[string]any{
			"kind": "Pod", "apiVersion": "v1", "namespace": p.Metadata.Namespace, "name": p.Metadata.Name,
			"uid": p.Metadata.UID, "fieldPath": "spec.containers{" + container + "}",
		},
		"type": kind, "reason": reason, "message": message, "count": 1,
		"firstTimestamp": now, "lastTimestamp": now,
		"source":             map[string]any{"component": "kubelet", "host": p.Spec.NodeName},
		"reportingComponent": "kubelet", "reportingInstance": p.Spec.NodeName,
	}
	if err := pr.pods.api.createEvent(ctx, p.Metadata.Namespace, ev); err != nil {
		log.Printf("event for %s: %v", p.ref(), err)
	}
}

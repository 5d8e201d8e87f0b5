package main

// The pods the shim serves: what it reads of a Pod object, the registry that holds the pods'
// state directories and processes, fetching a pod from the API server and the per-pod locks.
// The rest of the registry: podstate.go (a pod's state directory and the inputs in it),
// podprocs.go (the helper processes run for a pod) and podwatch.go (the watch that removes both
// with the pod).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

type objectRef struct {
	Name       string `json:"name"`
	SecretName string `json:"secretName"`
}

type containerPort struct {
	Name          string `json:"name"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

type podContainer struct {
	Name    string          `json:"name"`
	Image   string          `json:"image"`
	Command []string        `json:"command"`
	Args    []string        `json:"args"`
	Ports   []containerPort `json:"ports"`
	Env     []struct {
		ValueFrom *struct {
			ConfigMapKeyRef *objectRef `json:"configMapKeyRef"`
			SecretKeyRef    *objectRef `json:"secretKeyRef"`
		} `json:"valueFrom"`
	} `json:"env"`
	EnvFrom []struct {
		ConfigMapRef *objectRef `json:"configMapRef"`
		SecretRef    *objectRef `json:"secretRef"`
	} `json:"envFrom"`
	LivenessProbe  *probe `json:"livenessProbe"`
	ReadinessProbe *probe `json:"readinessProbe"`
	Resources      struct {
		Limits map[string]string `json:"limits"`
	} `json:"resources"`
}

// keygenArgs are kuard's --keygen-* flags on a container's command line (its load, metrics.go;
// its MemQ worker, memq.go).
type keygenArgs struct {
	enable              bool
	numToGen, timeToRun int
	memqServer          string
	exitCode            string // as written: "" when absent
}

func keygenFlags(c *podContainer) keygenArgs {
	var k keygenArgs
	for _, word := range append(append([]string{}, c.Command...), c.Args...) {
		name, value, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		switch name {
		case "keygen-enable":
			k.enable = value == "" || value == "true" || value == "1"
		case "keygen-num-to-gen":
			_, _ = fmt.Sscanf(value, "%d", &k.numToGen)
		case "keygen-time-to-run":
			_, _ = fmt.Sscanf(value, "%d", &k.timeToRun)
		case "keygen-memq-server":
			k.memqServer = value
		case "keygen-exit-code":
			k.exitCode = value
		}
	}
	return k
}

type containerState struct {
	Running *struct {
		StartedAt string `json:"startedAt"`
	} `json:"running"`
	Terminated *struct {
		StartedAt  string `json:"startedAt"`
		FinishedAt string `json:"finishedAt"`
		Reason     string `json:"reason"`
		ExitCode   int    `json:"exitCode"`
	} `json:"terminated"`
}

type containerStatus struct {
	Name         string         `json:"name"`
	RestartCount int            `json:"restartCount"`
	Ready        bool           `json:"ready"`
	State        containerState `json:"state"`
	LastState    containerState `json:"lastState"`
}

type pod struct {
	Metadata struct {
		Name              string  `json:"name"`
		Namespace         string  `json:"namespace"`
		UID               string  `json:"uid"`
		ResourceVersion   string  `json:"resourceVersion"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
		OwnerReferences   []struct {
			Kind string `json:"kind"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string         `json:"nodeName"`
		Containers []podContainer `json:"containers"`
		Volumes    []struct {
			ConfigMap *objectRef `json:"configMap"`
			Secret    *objectRef `json:"secret"`
		} `json:"volumes"`
	} `json:"spec"`
	Status struct {
		Phase             string            `json:"phase"`
		StartTime         string            `json:"startTime"`
		ContainerStatuses []containerStatus `json:"containerStatuses"`
	} `json:"status"`
	// The statuses as the API server sent them, so a status patch keeps the fields not modelled.
	rawStatuses []map[string]any
}

func (p *pod) ref() string { return p.Metadata.Namespace + "/" + p.Metadata.Name }

func (p *pod) container(name string) *podContainer {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

func (p *pod) status(name string) containerStatus {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == name {
			return s
		}
	}
	return containerStatus{Name: name}
}

// kuardPort is where kuard listens whether or not its container declares it (declaring ports
// is informational; the book's queue ReplicaSet declares none).
const kuardPort = 8080

// containerWithPort names the container declaring a TCP containerPort, or a kuard container
// for kuard's own port, or "".
func (p *pod) containerWithPort(port int32) string {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port && (cp.Protocol == "" || cp.Protocol == "TCP") {
				return c.Name
			}
		}
	}
	if port == kuardPort {
		for _, c := range p.Spec.Containers {
			if strings.Contains(c.Image, "kuar-demo/kuard") {
				return c.Name
			}
		}
	}
	return ""
}

// UIDs become directory names; anything else is refused rather than trusted.
var uidPattern = regexp.MustCompile(`^[0-9a-f-]{36}$`)

type podRegistry struct {
	api      *apiClient
	stateDir string
	pv       *privileged
	caps     namespaceCaps
	// learnerAccount names the ServiceAccount whose rights decide which Secrets a pod in a
	// learner namespace may show (see secretsReadable); "" trusts every pod's spec.
	learnerAccount string

	mu       sync.Mutex
	procs    map[string]map[*exec.Cmd]struct{} // by pod UID
	locks    map[string]*sync.Mutex            // by pod UID: preparing its directory
	logLocks map[string]*sync.Mutex            // by pod UID: its log files
	hostUIDs map[string]int                    // by pod UID: the uid its processes run as
	prober   *prober
	running  map[string]*pod // by UID, as the watch last saw them
	demoMu   sync.Mutex
	demos    map[string]*demoServer // by "<UID>-<port>", under demoMu
	helpers  map[string]int         // by namespace: pod helpers running (execs, logs)
	nsDemos  map[string]int         // by namespace: demo servers running
	seq      uint64
	nodeCPU  nodeCounters // metrics.go
}

// namespaceCaps bound what one learner namespace may run at once, so no learner can take the
// shim's or the machine's capacity from the others.
type namespaceCaps struct {
	helpers int // execs (kubectl exec, cp, attach's first log) running at once
	demos   int // demo app servers (one per forwarded pod port)
}

func newPodRegistry(api *apiClient, stateDir string, pv *privileged, caps namespaceCaps) *podRegistry {
	r := &podRegistry{
		api: api, stateDir: stateDir, pv: pv, caps: caps,
		procs: map[string]map[*exec.Cmd]struct{}{}, locks: map[string]*sync.Mutex{},
		logLocks: map[string]*sync.Mutex{}, hostUIDs: map[string]int{},
		running: map[string]*pod{}, demos: map[string]*demoServer{},
		helpers: map[string]int{}, nsDemos: map[string]int{},
		nodeCPU: nodeCounters{started: time.Now(), nodes: map[string]*nodeCounter{}},
	}
	r.prober = newProber(r)
	return r
}

func (r *podRegistry) dir(uid string) string { return filepath.Join(r.stateDir, uid) }

// fetch reads the pod from the API server: the source of truth, not the watch cache.
func (r *podRegistry) fetch(ctx context.Context, namespace, name string) (*pod, []byte, error) {
	var raw json.RawMessage
	path := fmt.Sprintf("/api/v1/namespaces/%s/pods/%s", url.PathEscape(namespace), url.PathEscape(name))
	if err := r.api.get(ctx, path, &raw); err != nil {
		if err == errNotFound {
			return nil, nil, fmt.Errorf("pod %s/%s not found", namespace, name)
		}
		return nil, nil, err
	}
	p, err := decodePod(raw)
	if err != nil {
		return nil, nil, err
	}
	return p, raw, nil
}

// fetchRunning is fetch for pods with running containers only, as a kubelet would have them.
func (r *podRegistry) fetchRunning(ctx context.Context, namespace, name string) (*pod, []byte, error) {
	p, raw, err := r.fetch(ctx, namespace, name)
	if err != nil {
		return nil, nil, err
	}
	if p.Metadata.DeletionTimestamp != nil {
		return nil, nil, fmt.Errorf("pod %s is terminating", p.ref())
	}
	if p.Status.Phase != "Running" {
		return nil, nil, fmt.Errorf("pod %s is not running (phase %s)", p.ref(), p.Status.Phase)
	}
	return p, raw, nil
}

func decodePod(raw []byte) (*pod, error) {
	var p pod
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	var statuses struct {
		Status struct {
			ContainerStatuses []map[string]any `json:"containerStatuses"`
		} `json:"status"`
	}
	if err := json.Unmarshal(raw, &statuses); err == nil {
		p.rawStatuses = statuses.Status.ContainerStatuses
	}
	if !uidPattern.MatchString(p.Metadata.UID) {
		return nil, fmt.Errorf("pod %s has an unexpected uid %q", p.ref(), p.Metadata.UID)
	}
	return &p, nil
}

// dirLock serialises preparing one pod's directory; logLock its log files. One pod's never
// waits for another's.
func (r *podRegistry) dirLock(uid string) *sync.Mutex { return r.podLock(r.locks, uid) }

func (r *podRegistry) logLock(uid string) *sync.Mutex { return r.podLock(r.logLocks, uid) }

func (r *podRegistry) podLock(locks map[string]*sync.Mutex, uid string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := locks[uid]
	if !ok {
		l = &sync.Mutex{}
		locks[uid] = l
	}
	return l
}

package main

// The pods the shim serves: a state directory per pod (its inputs for the helper, its logs, its
// files), the helper processes running for it, and a watch that removes both with the pod.

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	Name  string          `json:"name"`
	Image string          `json:"image"`
	Ports []containerPort `json:"ports"`
	Env   []struct {
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

// containerWithPort names the container declaring a TCP containerPort, or "".
func (p *pod) containerWithPort(port int32) string {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port && (cp.Protocol == "" || cp.Protocol == "TCP") {
				return c.Name
			}
		}
	}
	return ""
}

// maxRefsBytes bounds the ConfigMap and Secret data one pod's refs.json holds on disk.
const maxRefsBytes = 8 << 20

// podListPage pods per list request: 32 of the API's largest (1.5 MiB) fit one answer.
const podListPage = 32

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

// runningContainer fetches a running pod, checks it has the container and prepares its state
// directory: what every streaming verb needs first.
func (r *podRegistry) runningContainer(ctx context.Context, name, container string) (*pod, string, error) {
	namespace, podName, _ := strings.Cut(name, "/")
	p, raw, err := r.fetchRunning(ctx, namespace, podName)
	if err != nil {
		return nil, "", err
	}
	if p.container(container) == nil {
		return nil, "", fmt.Errorf("container %q not found in pod %s", container, p.ref())
	}
	dir, err := r.prepare(ctx, p, raw)
	return p, dir, err
}

// prepare writes the pod's inputs for the helper and gives the pod its host uid and its tmpfs.
// services.json and refs.json are what the container saw when it started, so they are written
// once; pod.json follows the pod. Everything here is root's: the pod's own files live only in
// the tmpfs (see privileged.go).
func (r *podRegistry) prepare(ctx context.Context, p *pod, raw []byte) (string, error) {
	l := r.dirLock(p.Metadata.UID)
	l.Lock()
	defer l.Unlock()
	dir := r.dir(p.Metadata.UID)
	// Traversable (not readable) for the pod's unprivileged uid, which bwrap runs as.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return "", err
	}
	if err := r.claimUID(p, dir); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, "pod.json"), raw); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "refs.json")); err == nil {
		return dir, nil
	}
	services, err := r.visibleServices(ctx, p.Metadata.Namespace)
	if err != nil {
		return "", err
	}
	refs, err := r.references(ctx, p)
	if err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(dir, "services.json"), services); err != nil {
		return "", err
	}
	// refs.json last: its presence marks the directory complete. It holds Secrets: root only;
	// the builder gets it as an open descriptor.
	data, err := json.Marshal(refs)
	if err != nil {
		return "", err
	}
	return dir, writeFile(filepath.Join(dir, "refs.json"), data, 0o600)
}

// claimUID leases the pod's namespace its host uid (keeping the one that owns the pod's tree
// from before a restart, when it can) and mounts the tree. Run under the pod's lock.
func (r *podRegistry) claimUID(p *pod, dir string) error {
	hint, _ := treeOwner(dir)
	uid, fresh, err := r.pv.uids.acquire(p.Metadata.Namespace, p.Metadata.UID, hint)
	if err != nil {
		return err
	}
	if fresh {
		// A uid new to this namespace: nothing of an earlier holder may live on in it.
		killUID(uid)
	}
	if err := r.pv.cgroups.namespaceGroup(uid, r.pv.ns, fresh); err != nil {
		log.Printf("cgroup of namespace %s: %v (rlimits still apply)", p.Metadata.Namespace, err)
	}
	if err := r.pv.treeEnsure(dir, uid); err != nil {
		r.releaseUID(p.Metadata.UID)
		return err
	}
	r.mu.Lock()
	r.hostUIDs[p.Metadata.UID] = uid
	r.mu.Unlock()
	return nil
}

func (r *podRegistry) releaseUID(podUID string) {
	if uid, freed := r.pv.uids.release(podUID); freed {
		r.pv.cgroups.remove("u" + strconv.Itoa(uid))
		killUID(uid)
	}
}

func (r *podRegistry) hostUID(podUID string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	uid, ok := r.hostUIDs[podUID]
	return uid, ok
}

func (r *podRegistry) visibleServices(ctx context.Context, namespace string) ([]json.RawMessage, error) {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := r.api.get(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/services", &list); err != nil {
		return nil, err
	}
	if namespace != "default" {
		var kubernetes json.RawMessage
		if err := r.api.get(ctx, "/api/v1/namespaces/default/services/kubernetes", &kubernetes); err == nil {
			list.Items = append(list.Items, kubernetes)
		}
	}
	return list.Items, nil
}

// references fetches the ConfigMaps and Secrets the pod's env and volumes name, as the kubelet
// would; the helper turns them into environment variables and files.
func (r *podRegistry) references(ctx context.Context, p *pod) (map[string]map[string]json.RawMessage, error) {
	configMaps, secrets := map[string]bool{}, map[string]bool{}
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				configMaps[e.ValueFrom.ConfigMapKeyRef.Name] = true
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secrets[e.ValueFrom.SecretKeyRef.Name] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				configMaps[e.ConfigMapRef.Name] = true
			}
			if e.SecretRef != nil {
				secrets[e.SecretRef.Name] = true
			}
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap != nil {
			configMaps[v.ConfigMap.Name] = true
		}
		if v.Secret != nil {
			secrets[v.Secret.SecretName] = true
		}
	}
	out := map[string]map[string]json.RawMessage{"configmaps": {}, "secrets": {}}
	total := 0
	fetch := func(kind, resource string, names map[string]bool) error {
		for name := range names {
			var obj struct {
				Data json.RawMessage `json:"data"`
			}
			path := fmt.Sprintf("/api/v1/namespaces/%s/%s/%s", url.PathEscape(p.Metadata.Namespace), resource, url.PathEscape(name))
			err := r.api.get(ctx, path, &obj)
			if err == errNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if obj.Data == nil {
				obj.Data = json.RawMessage("{}")
			}
			total += len(obj.Data)
			if total > maxRefsBytes {
				return fmt.Errorf("the ConfigMaps and Secrets pod %s names hold more than %d MiB; "+
					"kubelab's simulated pods take at most that much (they are kept on the node's disk)",
					p.ref(), maxRefsBytes>>20)
			}
			out[kind][name] = obj.Data
		}
		return nil
	}
	if err := fetch("configmaps", "configmaps", configMaps); err != nil {
		return nil, err
	}
	readable, err := r.secretsReadable(ctx, p.Metadata.Namespace, secrets)
	if err != nil {
		return nil, err
	}
	if err := fetch("secrets", "secrets", readable); err != nil {
		return nil, err
	}
	return out, nil
}

// secretsReadable keeps the Secrets the pod may see. The shim reads with the cluster admin's
// rights, but a pod must not show more than its creator may read: in a namespace with a learner
// ServiceAccount (a kubelab learner environment), only Secrets a SubjectAccessReview lets that
// account get; in others (kube-system, namespaces an administrator runs), all of them.
func (r *podRegistry) secretsReadable(ctx context.Context, namespace string, names map[string]bool) (map[string]bool, error) {
	if len(names) == 0 || r.learnerAccount == "" {
		return names, nil
	}
	var account struct{}
	path := fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s", url.PathEscape(namespace), url.PathEscape(r.learnerAccount))
	err := r.api.get(ctx, path, &account)
	if err == errNotFound {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	user := "system:serviceaccount:" + namespace + ":" + r.learnerAccount
	allowed := map[string]bool{}
	for name := range names {
		ok, err := r.api.canGet(ctx, user, []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace,
			"system:authenticated"}, namespace, "secrets", name)
		if err != nil {
			return nil, err
		}
		if ok {
			allowed[name] = true
		} else {
			log.Printf("pod in %s names Secret %s, which %s may not read: not given to the pod", namespace, name, user)
		}
	}
	return allowed, nil
}

// helperRun is a pod helper invocation (see helper) and what to free once it has ended.
type helperRun struct {
	cmd        *exec.Cmd
	closeFiles func() // the shim's copies of the descriptors handed over (once started)
	release    func()
}

// helper builds a pod helper invocation for the verb: started as the pod's uid in a fresh
// cgroup under its namespace's, with the pod's inputs and tree as descriptors (extra files
// first, from fd 3), stopped (SIGTERM, then SIGKILL) when ctx ends or the shim dies. kind is
// "helper" or "demo", counted against the namespace's caps. release (exactly once, after the
// process ended) kills what is left in the cgroup and frees it.
func (r *podRegistry) helper(ctx context.Context, p *pod, dir, verb, container, kind string,
	memory int64, args []string, extra ...*os.File,
) (*helperRun, error) {
	ns := p.Metadata.Namespace
	uid, ok := r.hostUID(p.Metadata.UID)
	if !ok {
		return nil, fmt.Errorf("pod %s is not prepared", p.ref())
	}
	if err := r.admit(ns, kind); err != nil {
		return nil, err
	}
	admitted := true
	var files []*os.File
	var group cgroupSet
	fail := func(err error) (*helperRun, error) {
		for _, f := range files {
			f.Close()
		}
		group.release()
		if admitted {
			r.leave(ns, kind)
		}
		return nil, err
	}
	files = append(files, extra...)
	fds := map[string]int{}
	for _, name := range []string{"pod.json", "services.json", "refs.json"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return fail(fmt.Errorf("pod %s: %w", p.ref(), err))
		}
		fds[strings.TrimSuffix(name, ".json")] = 3 + len(files)
		files = append(files, f)
	}
	tree, err := treeOpen(dir)
	if err != nil {
		return fail(err)
	}
	fds["fs"] = 3 + len(files)
	files = append(files, tree)
	filter, err := r.pv.seccompPipe()
	if err != nil {
		return fail(err)
	}
	fds["seccomp"] = 3 + len(files)
	files = append(files, filter)

	r.mu.Lock()
	r.seq++
	name := fmt.Sprintf("%s-%d", kind, r.seq)
	r.mu.Unlock()
	group, err = r.pv.cgroups.execGroup(uid, name, limits{memory: memory, pids: 256, cpuPercent: 50})
	if err != nil {
		log.Printf("cgroup for %s of %s: %v (rlimits still apply)", verb, p.ref(), err)
	}
	helperArgs := []string{verb, "--container", container}
	for _, input := range []string{"pod", "services", "refs", "fs", "seccomp"} {
		helperArgs = append(helperArgs, "--"+input+"-fd", strconv.Itoa(fds[input]))
	}
	helperArgs = append(helperArgs, args...)
	argv := r.pv.launchArgv(uid, group, r.pv.ns.pids, helperArgs)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.ExtraFiles = files
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var closed, released sync.Once
	closeFiles := func() {
		closed.Do(func() {
			for _, f := range files {
				f.Close()
			}
		})
	}
	release := func() {
		released.Do(func() {
			closeFiles()
			group.release()
			r.leave(ns, kind)
		})
	}
	return &helperRun{cmd: cmd, closeFiles: closeFiles, release: release}, nil
}

// admit counts a helper against its namespace's cap, or says plainly why not.
func (r *podRegistry) admit(ns, kind string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == "demo" {
		if r.nsDemos[ns] >= r.caps.demos {
			return fmt.Errorf("namespace %s already runs %d demo app servers (kubelab's limit per learner): "+
				"stop a kubectl port-forward, or wait a few minutes for idle ones to end", ns, r.caps.demos)
		}
		r.nsDemos[ns]++
		return nil
	}
	if r.helpers[ns] >= r.caps.helpers {
		return fmt.Errorf("namespace %s already runs %d kubectl exec sessions in its pods (kubelab's limit per "+
			"learner): end one (exit a shell, stop a background exec) and try again", ns, r.caps.helpers)
	}
	r.helpers[ns]++
	return nil
}

func (r *podRegistry) leave(ns, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := r.helpers
	if kind == "demo" {
		counts = r.nsDemos
	}
	if counts[ns] > 1 {
		counts[ns]--
	} else {
		delete(counts, ns)
	}
}

// run starts cmd and waits for it, registered under the pod so that deleting the pod stops it.
func (r *podRegistry) run(uid string, cmd *exec.Cmd) error {
	r.mu.Lock()
	if r.procs[uid] == nil {
		r.procs[uid] = map[*exec.Cmd]struct{}{}
	}
	r.procs[uid][cmd] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.procs[uid], cmd)
		r.mu.Unlock()
	}()
	if cmd.Process == nil {
		if err := cmd.Start(); err != nil {
			return err
		}
	}
	return cmd.Wait()
}

func (r *podRegistry) signal(uid string, sig syscall.Signal) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for cmd := range r.procs[uid] {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(sig)
			n++
		}
	}
	return n
}

// forget stops everything running for a pod that is gone and removes its state: the tmpfs is
// unmounted (never walked), then the root-owned directory removed, then the uid given back when
// the namespace has no pod left here.
func (r *podRegistry) forget(uid string) {
	if r.signal(uid, syscall.SIGTERM) > 0 {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && r.active(uid) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		r.signal(uid, syscall.SIGKILL)
	}
	r.mu.Lock()
	delete(r.running, uid)
	delete(r.locks, uid)
	delete(r.logLocks, uid)
	delete(r.hostUIDs, uid)
	r.mu.Unlock()
	if !uidPattern.MatchString(uid) {
		return
	}
	dir := r.dir(uid)
	r.pv.treeRemove(dir)
	if mounted(dir) {
		log.Printf("the tmpfs of pod %s is still mounted; keeping its directory", uid)
	} else if err := os.RemoveAll(dir); err != nil {
		log.Printf("removing state of pod %s: %v", uid, err)
	}
	r.releaseUID(uid)
}

func (r *podRegistry) active(uid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs[uid])
}

func (r *podRegistry) killAll() {
	r.mu.Lock()
	uids := make([]string, 0, len(r.procs))
	for uid := range r.procs {
		uids = append(uids, uid)
	}
	r.mu.Unlock()
	for _, uid := range uids {
		r.signal(uid, syscall.SIGTERM)
	}
}

// watch keeps the registry in step with the cluster: list, then watch, and list again whenever
// the watch breaks. Pods that disappear take their processes and state with them.
func (r *podRegistry) watch(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := r.resync(ctx)
		if err != nil {
			log.Printf("listing pods: %v (retrying)", err)
			sleep(ctx, 2*time.Second)
			continue
		}
		for ctx.Err() == nil {
			err := r.api.watchPods(ctx, rv, func(ev watchEvent) {
				p, err := decodePod(ev.Object)
				if err != nil {
					return
				}
				rv = p.Metadata.ResourceVersion
				r.observe(ev.Type, p)
			})
			if err != nil {
				log.Printf("watching pods: %v (listing again)", err)
				sleep(ctx, time.Second)
				break
			}
		}
	}
}

func (r *podRegistry) observe(eventType string, p *pod) {
	uid := p.Metadata.UID
	if eventType == "DELETED" {
		go r.forget(uid)
		return
	}
	r.mu.Lock()
	if p.Status.Phase == "Running" && p.Metadata.DeletionTimestamp == nil {
		r.running[uid] = p
	} else {
		delete(r.running, uid)
	}
	r.mu.Unlock()
	if p.Metadata.DeletionTimestamp != nil {
		// The pod's processes end when it starts terminating, as its containers would.
		r.signal(uid, syscall.SIGTERM)
	}
}

func (r *podRegistry) resync(ctx context.Context) (string, error) {
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	// In pages: one answer may hold 64 MiB (api.go), and learners' pods may be 1.5 MiB each; an
	// unpaged list of many big pods would fail every time and stop the watch for everyone.
	next := ""
	for {
		var page struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
				Continue        string `json:"continue"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		q := url.Values{"limit": {strconv.Itoa(podListPage)}}
		if next != "" {
			q.Set("continue", next)
		}
		if err := r.api.get(ctx, "/api/v1/pods?"+q.Encode(), &page); err != nil {
			return "", err
		}
		list.Items = append(list.Items, page.Items...)
		if list.Metadata.ResourceVersion == "" {
			list.Metadata.ResourceVersion = page.Metadata.ResourceVersion
		}
		if next = page.Metadata.Continue; next == "" {
			break
		}
	}
	alive := map[string]bool{}
	for _, raw := range list.Items {
		p, err := decodePod(raw)
		if err != nil {
			continue
		}
		alive[p.Metadata.UID] = true
		r.observe("ADDED", p)
	}
	entries, _ := os.ReadDir(r.stateDir)
	for _, e := range entries {
		if e.IsDir() && !alive[e.Name()] {
			go r.forget(e.Name())
		}
	}
	// Pods that outlived a shim restart keep their uid (the owner of their tree), before any
	// new namespace could lease it.
	for _, raw := range list.Items {
		if p, err := decodePod(raw); err == nil {
			if owner, ok := treeOwner(r.dir(p.Metadata.UID)); ok {
				_, _, _ = r.pv.uids.acquire(p.Metadata.Namespace, p.Metadata.UID, owner)
			}
		}
	}
	r.mu.Lock()
	for uid := range r.running {
		if !alive[uid] {
			delete(r.running, uid)
		}
	}
	r.mu.Unlock()
	return list.Metadata.ResourceVersion, nil
}

// snapshot lists the running pods that have state here (only those can have been probed).
func (r *podRegistry) snapshot() []*pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*pod, 0)
	for uid, p := range r.running {
		if _, err := os.Stat(filepath.Join(r.stateDir, uid, demoStartedMarker)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// lookup returns the pod as the watch last saw it.
func (r *podRegistry) lookup(uid string) (*pod, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.running[uid]
	return p, ok
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

func writeFileAtomic(path string, data []byte) error { return writeFile(path, data, 0o644) }

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

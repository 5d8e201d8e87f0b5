package main

// Resource metrics, as a kubelet serves them at /metrics/resource, for metrics-server (and so for
// `kubectl top` and the HorizontalPodAutoscaler). Nothing runs in a simulated container, so its
// usage is modelled on what kuard would use: almost no CPU at rest, one core while its KeyGen
// workload makes RSA keys (started by --keygen-enable or by PUT /keygen, podsim/keygen.py), no
// more than the container's CPU limit (the kernel would throttle it), and memory of a small Go
// server plus what was allocated through /memory/alloc. Every node is served on one port (the
// shim's): the node annotation metrics.k8s.io/resource-metrics-path names the node in the path.

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	idleCores   = 0.001 // kuard at rest
	keygenCores = 1.0   // one KeyGen worker keeps a core busy
	// What one 4096-bit RSA key takes kuard on a core; numToGen keys take that many times this.
	// podsim/keygen.py counts keys with the same figure.
	keygenKeySeconds = 2.0
	baseMemoryBytes  = 10 << 20 // kuard's resident set at rest
	// The demo app refuses more (podsim/demoapp.py); a forged state may claim any number.
	maxAllocatedBytes = 64 << 30
	// The node's own processes (kubelet, runtime), added to its pods'.
	nodeSystemCores  = 0.05
	nodeSystemMemory = 512 << 20
)

// keygenState is the KeyGen part of the demo app's state.json (podsim/keygen.py): the config
// last PUT, when it took effect, and the busy seconds of earlier configs (banked), so usage
// never runs backwards when the workload is switched off and on.
type keygenState struct {
	Enable    bool    `json:"enable"`
	NumToGen  int     `json:"numToGen"`
	TimeToRun int     `json:"timeToRun"`
	Since     float64 `json:"since"`
	Banked    float64 `json:"banked"`
}

// busyUntil is when a workload started at since stops by itself (zero time: never).
func busyUntil(since time.Time, numToGen, timeToRun int) time.Time {
	var end time.Time
	if timeToRun > 0 {
		end = since.Add(time.Duration(timeToRun) * time.Second)
	}
	if numToGen > 0 {
		byKeys := since.Add(time.Duration(float64(numToGen) * keygenKeySeconds * float64(time.Second)))
		if end.IsZero() || byKeys.Before(end) {
			end = byKeys
		}
	}
	return end
}

// busySeconds is how long the workload has kept a core busy between since and now.
func busySeconds(since, now time.Time, numToGen, timeToRun int) float64 {
	if now.Before(since) {
		return 0
	}
	if end := busyUntil(since, numToGen, timeToRun); !end.IsZero() && end.Before(now) {
		now = end
	}
	return now.Sub(since).Seconds()
}

// containerUsage is one running container's cumulative CPU seconds and working set.
type containerUsage struct {
	namespace, pod, container string
	restarts                  int
	started                   time.Time
	cpuSeconds                float64 // as modelled; nodeCounters.account bounds what is reported
	maxCores                  float64 // the most it can use: a core, or less under its CPU limit
	memoryBytes               float64
}

// usageOf models a running container from its spec and, once its demo app ran, its state.
// The state is the pod's to write (a hijacked app may write anything): what it claims is
// bounded by the container's lifetime here and per scrape by nodeCounters.account.
func usageOf(c *podContainer, started time.Time, st *demoState, now time.Time) (cpuSeconds, memory, maxCores float64) {
	busy := 0.0
	memory = baseMemoryBytes
	if st != nil && st.Keygen != nil {
		k := st.Keygen
		busy = k.Banked
		if k.Enable {
			busy += busySeconds(time.Unix(0, int64(k.Since*1e9)), now, k.NumToGen, k.TimeToRun)
		}
	} else if k := keygenFlags(c); k.enable {
		busy = busySeconds(started, now, k.numToGen, k.timeToRun)
	}
	if st != nil {
		memory += float64(min(max(st.Memory.AllocatedBytes, 0), maxAllocatedBytes))
	}
	busyCores := keygenCores
	if limit, ok := parseQuantityValue(c.Resources.Limits["cpu"]); ok && limit > 0 && limit < busyCores {
		busyCores = limit
	}
	elapsed := max(now.Sub(started).Seconds(), 0)
	busy = min(max(busy, 0), elapsed)
	return idleCores*(elapsed-busy) + busyCores*busy, memory, busyCores
}

// nodeUsage lists the running containers of the pods on one node.
func (r *podRegistry) nodeUsage(node string, now time.Time) []containerUsage {
	var out []containerUsage
	for _, p := range r.runningPods() {
		if p.Spec.NodeName != node || p.Metadata.DeletionTimestamp != nil {
			continue
		}
		dir := r.dir(p.Metadata.UID)
		for i := range p.Spec.Containers {
			c := &p.Spec.Containers[i]
			status := p.status(c.Name)
			if status.State.Running == nil {
				continue
			}
			started, err := time.Parse(time.RFC3339, status.State.Running.StartedAt)
			if err != nil {
				continue
			}
			var st *demoState
			if s, ok := readState(dir, c.Name, status.RestartCount); ok {
				st = &s
			}
			cpu, memory, most := usageOf(c, started, st, now)
			out = append(out, containerUsage{
				namespace: p.Metadata.Namespace, pod: p.Metadata.Name, container: c.Name,
				restarts: status.RestartCount, started: started,
				cpuSeconds: cpu, maxCores: most, memoryBytes: memory,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.namespace+"/"+a.pod+"/"+a.container < b.namespace+"/"+b.pod+"/"+b.container
	})
	return out
}

// nodeCounters turn the modelled usage into the counters a kubelet would report. A container's
// counter grows by the modelled increase since the last scrape, but never faster than it could
// run (maxCores) and never backwards, whatever its state says. A node's counter keeps what its
// containers used after they are gone, as a real node's does.
type nodeCounters struct {
	mu      sync.Mutex
	started time.Time
	nodes   map[string]*nodeCounter
}

type nodeCounter struct {
	containers float64               // seconds used by containers, also those gone since
	last       map[string]cpuCounter // by namespace/pod/container/restarts, at the last scrape
}

type cpuCounter struct {
	modelled, reported float64
	at                 time.Time
}

// account sets each container's reported counter and returns the node's.
func (n *nodeCounters) account(node string, usage []containerUsage, now time.Time) float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.nodes[node]
	if c == nil {
		c = &nodeCounter{last: map[string]cpuCounter{}}
		n.nodes[node] = c
	}
	seen := make(map[string]cpuCounter, len(usage))
	for i := range usage {
		u := &usage[i]
		key := fmt.Sprintf("%s/%s/%s/%d", u.namespace, u.pod, u.container, u.restarts)
		reported := u.cpuSeconds // first seen: bounded by its lifetime in usageOf
		if prev, ok := c.last[key]; ok {
			most := u.maxCores * max(now.Sub(prev.at).Seconds(), 0)
			reported = prev.reported + min(max(u.cpuSeconds-prev.modelled, 0), most)
			c.containers += reported - prev.reported
		} else {
			c.containers += reported
		}
		seen[key] = cpuCounter{modelled: u.cpuSeconds, reported: reported, at: now}
		u.cpuSeconds = reported
	}
	c.last = seen
	return nodeSystemCores*max(now.Sub(n.started).Seconds(), 1) + c.containers
}

// renderResourceMetrics writes the usage in the kubelet's Prometheus text format.
func renderResourceMetrics(b *strings.Builder, usage []containerUsage, nodeCPU float64, now time.Time) {
	ts := now.UnixMilli()
	nodeMemory := float64(nodeSystemMemory)
	for _, u := range usage {
		nodeMemory += u.memoryBytes
	}
	fmt.Fprintf(b, "# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds\n")
	fmt.Fprintf(b, "# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %g %d\n", nodeCPU, ts)
	fmt.Fprintf(b, "# HELP node_memory_working_set_bytes Current working set of the node in bytes\n")
	fmt.Fprintf(b, "# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %g %d\n", nodeMemory, ts)
	series := func(name, kind, help string, value func(containerUsage) float64) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
		for _, u := range usage {
			fmt.Fprintf(b, "%s{container=%q,namespace=%q,pod=%q} %g %d\n",
				name, u.container, u.namespace, u.pod, value(u), ts)
		}
	}
	series("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds",
		func(u containerUsage) float64 { return u.cpuSeconds })
	series("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes",
		func(u containerUsage) float64 { return u.memoryBytes })
	series("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds",
		func(u containerUsage) float64 { return float64(u.started.UnixNano()) / 1e9 })
}

// serveResourceMetrics answers /metrics/nodes/{node}/metrics/resource.
func (r *podRegistry) serveResourceMetrics(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var b strings.Builder
	node := req.PathValue("node")
	usage := r.nodeUsage(node, now)
	nodeCPU := r.nodeCPU.account(node, usage, now)
	renderResourceMetrics(&b, usage, nodeCPU, now)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

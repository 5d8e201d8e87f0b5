package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestUsageAtRestIsAlmostNothing(t *testing.T) {
	start := time.Unix(1000, 0)
	cpu, memory, _ := usageOf(&podContainer{Name: "kuard"}, start, nil, start.Add(100*time.Second))
	if !near(cpu, 100*idleCores) || memory != baseMemoryBytes {
		t.Fatalf("cpu %v memory %v", cpu, memory)
	}
}

func TestKeygenFlagKeepsACoreBusyUntilItsKeysAreMade(t *testing.T) {
	start := time.Unix(1000, 0)
	c := &podContainer{Name: "kuard", Args: []string{"--keygen-enable", "--keygen-num-to-gen=10"}}
	cpu, _, _ := usageOf(c, start, nil, start.Add(10*time.Second))
	if !near(cpu, 10) {
		t.Fatalf("after 10 s busy: %v core-seconds", cpu)
	}
	// 10 keys take 20 s; then it rests.
	cpu, _, _ = usageOf(c, start, nil, start.Add(100*time.Second))
	if !near(cpu, 20+80*idleCores) {
		t.Fatalf("after the keys: %v core-seconds", cpu)
	}
}

func TestCPULimitThrottles(t *testing.T) {
	start := time.Unix(1000, 0)
	c := &podContainer{Name: "kuard", Args: []string{"--keygen-enable"}}
	c.Resources.Limits = map[string]string{"cpu": "250m"}
	cpu, _, _ := usageOf(c, start, nil, start.Add(40*time.Second))
	if !near(cpu, 10) {
		t.Fatalf("a 250m limit over 40 s: %v core-seconds", cpu)
	}
}

func TestStateOverridesFlagsAndBanksEarlierWork(t *testing.T) {
	start := time.Unix(1000, 0)
	c := &podContainer{Name: "kuard", Args: []string{"--keygen-enable"}}
	// Switched off after 30 busy seconds: the counter keeps them and grows only at rest.
	st := &demoState{Keygen: &keygenState{Enable: false, Since: 1030, Banked: 30}}
	st.Memory.AllocatedBytes = 100 << 20
	cpu, memory, _ := usageOf(c, start, st, start.Add(60*time.Second))
	if !near(cpu, 30+30*idleCores) {
		t.Fatalf("banked: %v core-seconds", cpu)
	}
	if memory != baseMemoryBytes+100<<20 {
		t.Fatalf("memory %v", memory)
	}
	// Switched on again at 1060 with timeToRun 5: five more busy seconds, then rest.
	st.Keygen = &keygenState{Enable: true, TimeToRun: 5, Since: 1060, Banked: 30}
	cpu, _, _ = usageOf(c, start, st, start.Add(100*time.Second))
	if !near(cpu, 35+65*idleCores) {
		t.Fatalf("second run: %v core-seconds", cpu)
	}
}

func TestNodeCounterNeverRunsBackwards(t *testing.T) {
	n := nodeCounters{started: time.Unix(1000, 0), nodes: map[string]*nodeCounter{}}
	now := time.Unix(1010, 0)
	u := []containerUsage{{namespace: "a", pod: "p", container: "c", cpuSeconds: 5, maxCores: 1}}
	first := n.account("w1", u, now)
	second := n.account("w1", nil, now.Add(time.Second)) // the pod was deleted
	if second < first {
		t.Fatalf("node counter went from %v to %v", first, second)
	}
	if !near(first, nodeSystemCores*10+5) {
		t.Fatalf("first %v", first)
	}
}

func TestAForgedStateGainsNoMoreThanACorePerSecond(t *testing.T) {
	n := nodeCounters{started: time.Unix(1000, 0), nodes: map[string]*nodeCounter{}}
	now := time.Unix(1300, 0)
	at := func(cpu float64) []containerUsage {
		return []containerUsage{{namespace: "a", pod: "p", container: "c", cpuSeconds: cpu, maxCores: 1}}
	}
	u := at(0.3)
	n.account("w1", u, now)
	// The state now claims 300 busy seconds: ten seconds later only ten of them are reported.
	u = at(300)
	n.account("w1", u, now.Add(10*time.Second))
	if !near(u[0].cpuSeconds, 10.3) {
		t.Fatalf("reported %v", u[0].cpuSeconds)
	}
	// Rewritten backwards, the counter stays where it was.
	u = at(1)
	n.account("w1", u, now.Add(20*time.Second))
	if !near(u[0].cpuSeconds, 10.3) {
		t.Fatalf("after a backwards state: %v", u[0].cpuSeconds)
	}
}

func TestRenderedLinesAreWhatMetricsServerParses(t *testing.T) {
	var b strings.Builder
	now := time.UnixMilli(1_700_000_000_123)
	renderResourceMetrics(&b, []containerUsage{{
		namespace: "alice", pod: "kuard", container: "kuard", started: now.Add(-time.Minute),
		cpuSeconds: 1.5, memoryBytes: 1024,
	}}, 2.5, now)
	text := b.String()
	for _, want := range []string{
		"node_cpu_usage_seconds_total 2.5 1700000000123\n",
		`container_cpu_usage_seconds_total{container="kuard",namespace="alice",pod="kuard"} 1.5 1700000000123`,
		`container_memory_working_set_bytes{container="kuard",namespace="alice",pod="kuard"} 1024 1700000000123`,
		`container_start_time_seconds{container="kuard",namespace="alice",pod="kuard"} 1.69999994`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

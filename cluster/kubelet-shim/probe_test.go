package main

import (
	"encoding/json"
	"testing"
	"time"
)

func httpProbe(path string, period, threshold int) *probe {
	p := &probe{PeriodSeconds: period, FailureThreshold: threshold}
	p.HTTPGet = &struct {
		Path string          `json:"path"`
		Port json.RawMessage `json:"port"`
	}{Path: path, Port: json.RawMessage(`8080`)}
	return p
}

func TestFailNextFailsFromTheThresholdUntilTheNthProbe(t *testing.T) {
	c := &podContainer{Name: "kuard"}
	c.Ports = append(c.Ports, containerPort{ContainerPort: 8080})
	set := float64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) / 1e9
	at := func(seconds int) time.Time {
		return time.Unix(0, int64(set*1e9)).Add(time.Duration(seconds) * time.Second)
	}
	pr := httpProbe("/healthy", 10, 3) // probes at 0, 10, 20... s; the third failure at 20 s
	state := func(n int) demoState {
		return demoState{Healthy: probeState{FailNext: n, FailNextSince: &set}}
	}
	cases := []struct {
		failNext, seconds int
		fails             bool
	}{
		{5, 19, false}, // two failures so far, below failureThreshold
		{5, 20, true},
		{5, 49, true},
		{5, 50, false}, // the sixth probe passes
		{3, 20, true},  // exactly the threshold
		{3, 30, false},
		{2, 20, false}, // two failures never reach a threshold of three
		{-1, 3000, true},
		{-1, 19, false},
		{0, 40, false},
	}
	for _, tc := range cases {
		got := probeFails(pr, c, state(tc.failNext), at(tc.seconds))
		if got != tc.fails {
			t.Errorf("failNext %d after %ds: fails=%v, want %v", tc.failNext, tc.seconds, got, tc.fails)
		}
	}
	// A readiness probe of /ready reads the ready state, not the liveness one.
	if probeFails(httpProbe("/ready", 10, 3), c, state(5), at(40)) {
		t.Error("a /ready probe failed on /healthy's failNext")
	}
}

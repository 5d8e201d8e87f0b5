package main

import "testing"

func TestOnlyTheAPIServerReachesIntoPods(t *testing.T) {
	c := clientRights{apiServer: "kwok-admin", metrics: "system:metrics-server"}
	for _, path := range []string{"/exec/a/b/c", "/attach/a/b/c", "/portForward/a/b", "/containerLogs/a/b/c"} {
		if !c.allowed("kwok-admin", path) {
			t.Errorf("the API server refused %s", path)
		}
		if c.allowed("system:metrics-server", path) {
			t.Errorf("metrics-server allowed %s", path)
		}
		if c.allowed("", path) || c.allowed("someone", path) {
			t.Errorf("an unknown client allowed %s", path)
		}
	}
	if !c.allowed("system:metrics-server", "/metrics/nodes/worker-1/metrics/resource") {
		t.Error("metrics-server refused its metrics")
	}
	if (clientRights{apiServer: "kwok-admin"}).allowed("", "/metrics/nodes/x/metrics/resource") {
		t.Error("without --metrics-client, an empty name must not match")
	}
}

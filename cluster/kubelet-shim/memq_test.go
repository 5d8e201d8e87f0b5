package main

import "testing"

// A MemQ worker reaches Services of its own namespace by name and nothing else.
func TestMemqTargetStaysInTheNamespace(t *testing.T) {
	for _, c := range []struct {
		server, service string
		port            int32
	}{
		{"http://queue:8080/memq/server", "queue", 8080},
		{"http://queue.learner-a/memq/server", "queue", 80},
		{"http://queue.learner-a.svc:8080/memq/server", "queue", 8080},
		{"http://queue.learner-a.svc.cluster.local.:8080/memq/server", "queue", 8080},
	} {
		service, port, err := memqTarget(c.server, "learner-a")
		if err != nil || service != c.service || port != c.port {
			t.Errorf("%s: got %q %d %v", c.server, service, port, err)
		}
	}
	for _, server := range []string{
		"http://queue.learner-b:8080/memq/server",              // another learner's namespace
		"http://queue.learner-b.svc.cluster.local/memq/server", // the same, in full
		"http://10.96.0.12:8080/memq/server",                   // a Service IP
		"http://10.244.1.5:8080/memq/server",                   // a Pod IP
		"http://queue.learner-a.svc.example.com/memq/server",   // not the cluster domain
		"https://queue:8443/memq/server",                       // kuard's MemQ is plain HTTP
		"http://queue:0/memq/server",
		"queue:8080",
	} {
		if service, _, err := memqTarget(server, "learner-a"); err == nil {
			t.Errorf("%s: accepted as %q", server, service)
		}
	}
}

func TestMemqWorkerIsAJobPodsKuardWithAServer(t *testing.T) {
	worker := func(owner string, args ...string) string {
		p := &pod{}
		p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, struct {
			Kind string `json:"kind"`
		}{owner})
		p.Spec.Containers = []podContainer{{Name: "worker", Args: args}}
		name, _ := memqWorker(p)
		return name
	}
	server := "--keygen-memq-server=http://queue:8080/memq/server"
	if worker("Job", "--keygen-enable", server) != "worker" {
		t.Error("a Job's MemQ worker was not found")
	}
	if worker("ReplicaSet", "--keygen-enable", server) != "" {
		t.Error("a ReplicaSet's pod is not worked (kuard would serve, not exit)")
	}
	if worker("Job", server) != "" {
		t.Error("without --keygen-enable kuard generates nothing")
	}
	if worker("Job", "--keygen-enable", server, "--keygen-exit-code=1") != "" {
		t.Error("a worker told to fail is kwok's pod-fail stage's")
	}
}

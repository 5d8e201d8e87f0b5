package main

// The watch that keeps the registry in step with the cluster: list (in pages), then watch, and
// forget a pod that is gone (stop its processes, unmount its tmpfs, remove its state, give its
// uid back); and the running pods as the watch last saw them.

import (
	"context"
	"encoding/json"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// podListPage pods per list request: 32 of the API's largest (1.5 MiB) fit one answer.
const podListPage = 32

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

// runningPods lists every running pod as the watch last saw it.
func (r *podRegistry) runningPods() []*pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*pod, 0, len(r.running))
	for _, p := range r.running {
		out = append(out, p)
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

package main

// The loop the prober and the MemQ workers share: every second, each pod of a list gets its own
// goroutine, and a pod whose last round has not finished is skipped, so a slow API call or a
// long-running worker for one pod never delays another.

import (
	"context"
	"sync"
	"time"
)

type perPod struct {
	mu       sync.Mutex
	inFlight map[string]bool // pod UIDs being worked on
}

func newPerPod() *perPod { return &perPod{inFlight: map[string]bool{}} }

// run calls work(ctx, p) for every pod list() returns, each second, until ctx ends.
func (pp *perPod) run(ctx context.Context, list func() []*pod, work func(context.Context, *pod)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range list() {
			uid := p.Metadata.UID
			pp.mu.Lock()
			busy := pp.inFlight[uid]
			pp.inFlight[uid] = true
			pp.mu.Unlock()
			if busy {
				continue
			}
			go func() {
				defer func() {
					pp.mu.Lock()
					delete(pp.inFlight, uid)
					pp.mu.Unlock()
				}()
				work(ctx, p)
			}()
		}
	}
}

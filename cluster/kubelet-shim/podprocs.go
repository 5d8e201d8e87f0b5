package main

// The helper processes run for a pod: building one invocation (the pod's uid, cgroup, inputs
// and tree as descriptors), counting it against its namespace's caps, and running, signalling
// and killing them by pod.

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

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

package main

// Cgroups, a root step for a pod (see privileged.go): a group per learner namespace holding a
// group per exec and demo server, on cgroup v2 or the writable v1 hierarchies; and the per-exec
// limits read from the container's resources.

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// limits of a cgroup: a learner namespace's pods together, or one exec.
type limits struct {
	memory     int64
	pids       int
	cpuPercent int
}

// cgroupTree: one group per learner namespace ("u<uid>": the leased uid is unique on the
// machine) holding a group per exec and demo server, so a namespace's pods together stay under
// its limits, and tmpfs pages charged to an exec that ended stay charged to the namespace.
// cgroup v2 when the shim's parent group delegates memory and pids, else the writable v1
// hierarchies (memory, pids, cpu), else none (rlimits still apply).
type cgroupTree struct {
	v2 string            // base directory in the unified hierarchy, or ""
	v1 map[string]string // controller -> base directory
}

type cgroupSet struct{ dirs []string }

const cgroupRoot = "/sys/fs/cgroup"

func ownCgroups() map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

func newCgroupTree(name string) *cgroupTree {
	t := &cgroupTree{v1: map[string]string{}}
	if os.Geteuid() != 0 {
		return t
	}
	own := ownCgroups()
	if path, ok := own[""]; ok {
		if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
			parent := filepath.Dir(filepath.Join(cgroupRoot, strings.TrimPrefix(path, "/")))
			enabled, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
			set := " " + strings.TrimSpace(string(enabled)) + " "
			if strings.Contains(set, " memory ") && strings.Contains(set, " pids ") {
				t.v2 = filepath.Join(parent, name)
				return t
			}
		}
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		path, ok := own[c]
		mount := filepath.Join(cgroupRoot, c)
		if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); !ok || err != nil {
			continue
		}
		t.v1[c] = filepath.Join(mount, strings.TrimPrefix(path, "/"), name)
	}
	return t
}

func writeValue(path, value string) error { return os.WriteFile(path, []byte(value), 0o644) }

// group makes (or finds) the group at rel with the limits l.
func (t *cgroupTree) group(rel string, l limits) (cgroupSet, error) {
	var s cgroupSet
	if t.v2 != "" {
		base := t.v2
		if err := os.MkdirAll(base, 0o755); err != nil {
			return s, err
		}
		// Each level hands memory, pids and cpu on to the next: v2 groups with processes are leaves.
		dir := base
		for _, part := range strings.Split(rel, "/") {
			_ = writeValue(filepath.Join(dir, "cgroup.subtree_control"), "+memory +pids +cpu")
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return s, err
			}
		}
		s.dirs = append(s.dirs, dir)
		_ = writeValue(filepath.Join(dir, "memory.swap.max"), "0")
		if err := writeValue(filepath.Join(dir, "memory.max"), strconv.FormatInt(l.memory, 10)); err != nil {
			return s, err
		}
		if err := writeValue(filepath.Join(dir, "pids.max"), strconv.Itoa(l.pids)); err != nil {
			return s, err
		}
		_ = writeValue(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d 100000", l.cpuPercent*1000))
		return s, nil
	}
	for c, base := range t.v1 {
		dir := filepath.Join(base, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		var err error
		switch c {
		case "memory":
			err = writeValue(filepath.Join(dir, "memory.limit_in_bytes"), strconv.FormatInt(l.memory, 10))
		case "pids":
			err = writeValue(filepath.Join(dir, "pids.max"), strconv.Itoa(l.pids))
		case "cpu":
			_ = writeValue(filepath.Join(dir, "cpu.cfs_period_us"), "100000")
			_ = writeValue(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.Itoa(l.cpuPercent*1000))
		}
		if err != nil {
			return s, fmt.Errorf("cgroup %s: %w", dir, err)
		}
		s.dirs = append(s.dirs, dir)
	}
	return s, nil
}

// namespaceGroup prepares the group of a namespace's pods; fresh (a newly leased uid) clears
// whatever an earlier holder left in it first.
func (t *cgroupTree) namespaceGroup(uid int, l limits, fresh bool) error {
	rel := "u" + strconv.Itoa(uid)
	if fresh {
		t.remove(rel)
	}
	_, err := t.group(rel, l)
	return err
}

func (t *cgroupTree) execGroup(uid int, name string, l limits) (cgroupSet, error) {
	return t.group("u"+strconv.Itoa(uid)+"/"+name, l)
}

// remove kills and removes the group at rel and every group below it.
func (t *cgroupTree) remove(rel string) {
	var dirs []string
	if t.v2 != "" {
		dirs = append(dirs, filepath.Join(t.v2, rel))
	}
	for _, base := range t.v1 {
		dirs = append(dirs, filepath.Join(base, rel))
	}
	for _, dir := range dirs {
		children, _ := os.ReadDir(dir)
		for _, c := range children {
			if c.IsDir() {
				cgroupSet{dirs: []string{filepath.Join(dir, c.Name())}}.release()
			}
		}
		cgroupSet{dirs: []string{dir}}.release()
	}
}

func (s cgroupSet) procsFiles() []string {
	out := make([]string, len(s.dirs))
	for i, d := range s.dirs {
		out[i] = filepath.Join(d, "cgroup.procs")
	}
	return out
}

func (s cgroupSet) killAll() int {
	n := 0
	for _, f := range s.procsFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// release kills what is left in the groups and removes them (retrying while the dying exit).
func (s cgroupSet) release() {
	for attempt := 0; attempt < 50; attempt++ {
		s.killAll()
		left := 0
		for _, d := range s.dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Printf("cgroups %v still busy; left for the next sweep", s.dirs)
}

// --- per-exec limits -----------------------------------------------------------------------

const (
	defaultExecMemory = 256 << 20
	minExecMemory     = 16 << 20
	maxExecMemory     = 1 << 30
)

// memoryLimit is the container's resources.limits.memory for its execs' cgroup, clamped to
// 16 MiB..1 GiB; 256 MiB without one (or with one kubelab cannot read).
func memoryLimit(c *podContainer) int64 {
	if c == nil {
		return defaultExecMemory
	}
	bytes, ok := parseQuantity(c.Resources.Limits["memory"])
	if !ok {
		return defaultExecMemory
	}
	return min(max(bytes, minExecMemory), maxExecMemory)
}

var quantitySuffixes = map[string]float64{
	"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60, "m": 1e-3,
}

// parseQuantity reads a Kubernetes quantity ("512Mi", "1G", "1.5Gi", "1e9") as bytes.
func parseQuantity(s string) (int64, bool) {
	value, ok := parseQuantityValue(s)
	return int64(value), ok
}

// parseQuantityValue reads a Kubernetes quantity as a number ("500m" is 0.5).
func parseQuantityValue(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return 0, false
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.' || r == '+' || r == '-') })
	number, suffix := s, ""
	if i >= 0 {
		number, suffix = s[:i], s[i:]
	}
	if exponent := strings.TrimLeft(suffix, "eE"); len(suffix) > 1 && len(exponent) == len(suffix)-1 {
		if _, err := strconv.Atoi(exponent); err == nil {
			number, suffix = s, "" // 1e9: an exponent, not the exa suffix
		}
	}
	factor, ok := quantitySuffixes[suffix]
	if !ok {
		return 0, false
	}
	value, err := strconv.ParseFloat(number, 64)
	if err != nil || value < 0 || value*factor > 1<<62 {
		return 0, false
	}
	return value * factor, true
}

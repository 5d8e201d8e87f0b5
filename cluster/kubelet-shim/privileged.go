package main

// Every step the shim takes with root's rights for a pod, in one place.
//
// The rule (ARCHITECTURE.md, "Root and the pod's files"): code that runs as root never opens,
// creates, chowns, chmods, binds or reads a path inside a tree a pod's uid can write. A pod's
// writable tree is its tmpfs, mounted on <pod dir>/fs with the pod's uid as owner. Root touches
// it only
//   - by its mount point, every component of which root owns: to mount it, to open it O_PATH
//     for the pod builder, and to unmount it;
//   - to read the demo app's state, through openat2 beneath that mount point with
//     RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV, O_NONBLOCK
//     and regular files only (readBeneath).
// Everything inside the tree is laid out by the pod builder (podsim/podjail.py), which
// starts already dropped to the pod's uid by the launch line built here. Root's other files
// (pod.json, services.json, refs.json, logs) live beside the mount point, in directories only
// root can write.

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const (
	podFSBytes  = 128 << 20 // everything one pod writes: container roots, volumes, demo state
	podFSInodes = 16384     // files in it (each inode costs kernel memory outside the size)
	oPath       = 0x200000  // O_PATH, which package syscall does not name
	// openat2(2): resolve only beneath the directory, through no symlink of any kind, on one
	// file system.
	sysOpenat2          = 437
	resolveNoXdev       = 0x01
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
	defaultSignals      = "INT,QUIT,TSTP,TTIN,TTOU,TERM,HUP,PIPE"
)

// limits of a cgroup: a learner namespace's pods together, or one exec.
type limits struct {
	memory     int64
	pids       int
	cpuPercent int
}

type privileged struct {
	root    bool // euid 0: tmpfs mounts, uid drops and cgroups; otherwise a dev box's plain run
	uids    *uidPool
	cgroups *cgroupTree
	helper  string
	seccomp []byte // the jails' compiled seccomp filter, handed to each builder on a pipe
	ns      limits // per learner namespace, all its pods together
}

func newPrivileged(helper, uidDir, stateDir string, ns limits) (*privileged, error) {
	pv := &privileged{root: os.Geteuid() == 0, helper: helper, ns: ns}
	pv.uids = newUIDPool(uidDir, stateDir, pv.root)
	pv.cgroups = newCgroupTree("kubelab-pods")
	program, err := pv.compileSeccomp()
	if err != nil {
		return nil, err
	}
	pv.seccomp = program
	return pv, nil
}

// compileSeccomp asks the helper for the filter once, as nobody: root runs no Python.
func (pv *privileged) compileSeccomp() ([]byte, error) {
	cmd := exec.Command(pv.helper, "seccomp")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	if pv.root {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || out.Len() == 0 {
		return nil, fmt.Errorf("building the jails' seccomp filter (%v): %s; install python3-seccomp (scripts/setup does)",
			err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// --- the pod's tmpfs -----------------------------------------------------------------------

func treeMountPoint(dir string) string { return filepath.Join(dir, "fs") }

func mounted(dir string) bool {
	var parent, point syscall.Stat_t
	if syscall.Lstat(dir, &parent) != nil || syscall.Lstat(treeMountPoint(dir), &point) != nil {
		return false
	}
	return parent.Dev != point.Dev
}

// treeOwner is the uid that owns a mounted pod tree (to keep it across a shim restart).
func treeOwner(dir string) (int, bool) {
	if !mounted(dir) {
		return 0, false
	}
	var st syscall.Stat_t
	if syscall.Lstat(treeMountPoint(dir), &st) != nil {
		return 0, false
	}
	return int(st.Uid), true
}

// treeEnsure mounts the pod's tmpfs, owned by uid, unless it is there already. A tree owned by
// another uid (a lease lost across a restart) is replaced: the pod starts with empty files, as
// after a node reboot. Run under the pod's lock.
func (pv *privileged) treeEnsure(dir string, uid int) error {
	point := treeMountPoint(dir)
	if err := os.Mkdir(point, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if !pv.root {
		return nil // a dev box: the files stay on disk, the builder runs as the shim's own user
	}
	if owner, ok := treeOwner(dir); ok {
		if owner == uid {
			return nil
		}
		log.Printf("pod tree %s belongs to uid %d, not %d: starting it afresh", point, owner, uid)
		if err := syscall.Unmount(point, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", point, err)
		}
	}
	options := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0700,uid=%d,gid=%d", podFSBytes, podFSInodes, uid, uid)
	if err := syscall.Mount("kubelab-pod", point, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, options); err != nil {
		// Root without mount rights would leave a pod's files on the host's disk, owned by its
		// uid and walked by root on removal: refuse instead.
		return fmt.Errorf("mounting the pod's tmpfs on %s: %w", point, err)
	}
	return nil
}

// treeOpen is the O_PATH descriptor the builder receives: the tree, with no path to resolve.
func treeOpen(dir string) (*os.File, error) {
	fd, err := syscall.Open(treeMountPoint(dir), oPath|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the pod's tree: %w", err)
	}
	return os.NewFile(uintptr(fd), "pod-tree"), nil
}

// treeRemove unmounts the pod's tmpfs (lazily: its last process may still be dying); what it
// held goes with it, and root never walks it.
func (pv *privileged) treeRemove(dir string) {
	if pv.root && mounted(dir) {
		if err := syscall.Unmount(treeMountPoint(dir), syscall.MNT_DETACH); err != nil {
			log.Printf("unmounting %s: %v", treeMountPoint(dir), err)
		}
	}
}

type openHow struct {
	flags   uint64
	mode    uint64
	resolve uint64
}

// readBeneath reads a regular file at rel beneath the pod's tree without following any link,
// without blocking on a FIFO and without reading more than max bytes.
func readBeneath(dir, rel string, max int64) ([]byte, error) {
	root, err := syscall.Open(treeMountPoint(dir), oPath|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(root)
	name, err := syscall.BytePtrFromString(rel)
	if err != nil {
		return nil, err
	}
	how := openHow{
		flags:   uint64(syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC | syscall.O_NOFOLLOW),
		resolve: resolveBeneath | resolveNoSymlinks | resolveNoMagiclinks | resolveNoXdev,
	}
	r, _, errno := syscall.Syscall6(sysOpenat2, uintptr(root), uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	if errno != 0 {
		return nil, errno
	}
	f := os.NewFile(r, rel)
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	if info.Size() > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, max)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// --- the launch line -----------------------------------------------------------------------

// launchArgv: join the cgroups, set rlimits, drop to the pod's uid (no groups, no new
// privileges, no capabilities), then run the pod helper. env restores the signals a server
// started in the background ignores, which exec would hand on to the learner's commands.
func (pv *privileged) launchArgv(uid int, cg cgroupSet, pids int, helperArgs []string) []string {
	join := `while [ "$1" != -- ]; do echo $$ > "$1" || exit 111; shift; done; shift; exec "$@"`
	argv := []string{"env", "--default-signal=" + defaultSignals, "/bin/sh", "-c", join, "kubelab-pod"}
	argv = append(argv, cg.procsFiles()...)
	argv = append(argv, "--",
		"prlimit", "--nproc="+strconv.Itoa(pids), "--as="+strconv.Itoa(4<<30), "--fsize="+strconv.Itoa(64<<20),
		"--cpu=3600", "--nofile=1024", "--core=0", "--")
	if pv.root {
		u := strconv.Itoa(uid)
		argv = append(argv, "setpriv", "--reuid="+u, "--regid="+u, "--clear-groups", "--no-new-privs", "--")
	}
	return append(append(argv, pv.helper), helperArgs...)
}

// seccompPipe hands the filter to one builder: a pipe holds the few hundred bytes.
func (pv *privileged) seccompPipe() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(pv.seccomp)
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// --- host uids -----------------------------------------------------------------------------

const (
	podUIDBase  = 190000 // below the terminal's pool (200000+)
	podUIDCount = 10000
)

// uidPool leases one host uid per namespace with pods here, machine-wide: a flock on a file per
// uid in a root-only directory, held while the namespace has pods, so two kubelabs on one host
// (a second checkout, CI beside a dev server) never share one, and two namespaces never do.
type uidPool struct {
	dir, stateDir string
	root          bool
	mu            sync.Mutex
	leases        map[string]*uidLease // by namespace
}

type uidLease struct {
	uid  int
	file *os.File
	pods map[string]bool // pod UIDs using it
}

func newUIDPool(dir, stateDir string, root bool) *uidPool {
	return &uidPool{dir: dir, stateDir: stateDir, root: root, leases: map[string]*uidLease{}}
}

// acquire returns the namespace's uid, leasing one for its first pod (hint first: the uid that
// owns the pod's tree from before a restart). fresh reports a newly leased uid, whose cgroup
// and stray processes the caller clears.
func (u *uidPool) acquire(namespace, podUID string, hint int) (uid int, fresh bool, err error) {
	if !u.root {
		return os.Getuid(), false, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if l, ok := u.leases[namespace]; ok {
		l.pods[podUID] = true
		return l.uid, false, nil
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return 0, false, err
	}
	start := int(crc32.ChecksumIEEE([]byte(namespace)) % podUIDCount)
	candidates := make([]int, 0, podUIDCount+1)
	if hint >= podUIDBase && hint < podUIDBase+podUIDCount {
		candidates = append(candidates, hint)
	}
	for i := 0; i < podUIDCount; i++ {
		candidates = append(candidates, podUIDBase+(start+i)%podUIDCount)
	}
	for _, candidate := range candidates {
		if u.inUse(candidate) {
			continue
		}
		f, ok := u.tryLock(candidate, namespace)
		if !ok {
			continue
		}
		u.leases[namespace] = &uidLease{uid: candidate, file: f, pods: map[string]bool{podUID: true}}
		return candidate, true, nil
	}
	return 0, false, fmt.Errorf("no free host uid for the pods of namespace %s (all %d are leased)", namespace, podUIDCount)
}

func (u *uidPool) inUse(uid int) bool {
	for _, l := range u.leases {
		if l.uid == uid {
			return true
		}
	}
	return false
}

func (u *uidPool) tryLock(uid int, namespace string) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(u.dir, strconv.Itoa(uid)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	// Who holds it, for people (and tests) looking: "<state dir>\t<namespace>".
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(u.stateDir+"\t"+namespace+"\n"), 0)
	return f, true
}

// release drops a pod from its namespace's lease; the uid is given back (returned, true) when
// it was the namespace's last pod.
func (u *uidPool) release(podUID string) (int, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for namespace, l := range u.leases {
		if !l.pods[podUID] {
			continue
		}
		delete(l.pods, podUID)
		if len(l.pods) > 0 {
			return 0, false
		}
		delete(u.leases, namespace)
		l.file.Close() // the file stays: unlinking a flock file races with the next locker
		return l.uid, true
	}
	return 0, false
}

func (u *uidPool) lookup(namespace string) (int, bool) {
	if !u.root {
		return os.Getuid(), true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	l, ok := u.leases[namespace]
	if !ok {
		return 0, false
	}
	return l.uid, true
}

// killUID: the last line of defence, SIGKILL for any process left running as uid.
func killUID(uid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) == uid {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// --- cgroups -------------------------------------------------------------------------------

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
	return int64(value * factor), true
}

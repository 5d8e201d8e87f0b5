package main

// Host uids, a root step for a pod (see privileged.go): one uid leased per learner namespace
// machine-wide through flock files in a root-only directory, and killUID, the SIGKILL sweep for
// any process left running as a uid.

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

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

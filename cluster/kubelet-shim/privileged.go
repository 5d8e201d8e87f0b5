package main

// Every step the shim takes with root's rights for a pod, in privileged.go and the
// privileged_*.go files beside it: this file holds the rule below, the pod's tmpfs and the
// launch line; privileged_uids.go the host uid leases; privileged_cgroups.go the cgroups and
// the per-exec limits.
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
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

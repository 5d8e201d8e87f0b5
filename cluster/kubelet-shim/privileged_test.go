package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fs", "demo", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadBeneathReadsARegularFile(t *testing.T) {
	dir := tree(t)
	path := filepath.Join(dir, "fs", "demo", "c", "state.json")
	if err := os.WriteFile(path, []byte(`{"generation": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readBeneath(dir, "demo/c/state.json", 1024)
	if err != nil || string(got) != `{"generation": 2}` {
		t.Fatalf("got %q, %v", got, err)
	}
	st, ok := readState(dir, "c", 2)
	if !ok || st.Generation != 2 {
		t.Fatalf("state %+v, %v", st, ok)
	}
	if _, ok := readState(dir, "c", 3); ok {
		t.Fatal("a state written before the restart counted")
	}
}

func TestReadBeneathNeverBlocksOrFollows(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(outside, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(dir string) error{
		"a FIFO": func(dir string) error {
			return syscall.Mkfifo(filepath.Join(dir, "fs", "demo", "c", "state.json"), 0o644)
		},
		"a symlink to a host file": func(dir string) error {
			return os.Symlink(outside, filepath.Join(dir, "fs", "demo", "c", "state.json"))
		},
		"a symlinked directory on the way": func(dir string) error {
			other := filepath.Join(dir, "elsewhere")
			if err := os.MkdirAll(other, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(other, "state.json"), []byte("{}"), 0o644); err != nil {
				return err
			}
			if err := os.RemoveAll(filepath.Join(dir, "fs", "demo", "c")); err != nil {
				return err
			}
			return os.Symlink(other, filepath.Join(dir, "fs", "demo", "c"))
		},
		"a file too big": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "fs", "demo", "c", "state.json"), make([]byte, 4096), 0o644)
		},
		"a directory": func(dir string) error {
			return os.Mkdir(filepath.Join(dir, "fs", "demo", "c", "state.json"), 0o755)
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			dir := tree(t)
			if err := plant(dir); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := readBeneath(dir, "demo/c/state.json", 1024)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("read it")
				}
			case <-time.After(3 * time.Second):
				t.Fatal("blocked")
			}
		})
	}
}

func TestReadStateRefusesContainerNamesThatArePaths(t *testing.T) {
	dir := tree(t)
	for _, name := range []string{"../c", "c/../../x", "", "C"} {
		if _, ok := readState(dir, name, 0); ok {
			t.Fatalf("%q accepted", name)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]int64{
		"512Mi": 512 << 20, "1Gi": 1 << 30, "1G": 1e9, "1.5Gi": 3 << 29, "1e9": 1e9, "100": 100,
		"128974848": 128974848, "129M": 129e6, "2E": 2e18,
	} {
		got, ok := parseQuantity(in)
		if !ok || got != want {
			t.Errorf("%s: got %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abc", "1Qi", "-1Gi", "1e999", strings.Repeat("9", 80), "9Ei"} {
		if _, ok := parseQuantity(in); ok {
			t.Errorf("%q parsed", in)
		}
	}
	if memoryLimit(&podContainer{}) != defaultExecMemory {
		t.Error("no limit is not the default")
	}
	huge := &podContainer{}
	huge.Resources.Limits = map[string]string{"memory": "64Gi"}
	if memoryLimit(huge) != maxExecMemory {
		t.Error("a huge limit is not clamped")
	}
}

func TestUIDLeasesAreExclusiveAcrossShims(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("leases are taken only when the shim runs as root")
	}
	dir := t.TempDir()
	one := newUIDPool(dir, "/state/one", true)
	two := newUIDPool(dir, "/state/two", true)
	a, fresh, err := one.acquire("ns", "pod-1", 0)
	if err != nil || !fresh {
		t.Fatal(err, fresh)
	}
	again, fresh, _ := one.acquire("ns", "pod-2", 0)
	if again != a || fresh {
		t.Fatalf("the namespace's second pod got %d (fresh %v), not %d", again, fresh, a)
	}
	// Another kubelab on the same host, same namespace name: never the same uid.
	b, _, err := two.acquire("ns", "pod-9", 0)
	if err != nil || b == a {
		t.Fatalf("second shim got %d (%v), the first holds %d", b, err, a)
	}
	other, _, _ := one.acquire("other", "pod-3", 0)
	if other == a || other == b {
		t.Fatalf("two namespaces share uid %d", other)
	}
	content, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(a)))
	if string(content) != "/state/one\tns\n" {
		t.Fatalf("lock file says %q", content)
	}
	if _, freed := one.release("pod-1"); freed {
		t.Fatal("freed while pod-2 still runs")
	}
	if uid, freed := one.release("pod-2"); !freed || uid != a {
		t.Fatalf("not freed: %d %v", uid, freed)
	}
	// Once free, a hint can take it back (a pod that outlived a restart).
	if got, _, _ := two.acquire("late", "pod-4", a); got != a {
		t.Fatalf("hint %d not honoured: %d", a, got)
	}
}

func testRegistry(t *testing.T) *podRegistry {
	t.Helper()
	pv := &privileged{uids: newUIDPool(t.TempDir(), "", false), cgroups: &cgroupTree{v1: map[string]string{}}}
	return newPodRegistry(nil, t.TempDir(), pv, namespaceCaps{helpers: 2, demos: 1})
}

func TestNamespaceCapsSayWhatTheLimitIs(t *testing.T) {
	r := testRegistry(t)
	for i := 0; i < 2; i++ {
		if err := r.admit("ns", "helper"); err != nil {
			t.Fatal(err)
		}
	}
	err := r.admit("ns", "helper")
	if err == nil || !strings.Contains(err.Error(), "already runs 2 kubectl exec sessions") {
		t.Fatalf("third exec: %v", err)
	}
	if err := r.admit("other", "helper"); err != nil {
		t.Fatalf("another namespace is limited by this one: %v", err)
	}
	if err := r.admit("ns", "demo"); err != nil {
		t.Fatal(err)
	}
	if err := r.admit("ns", "demo"); err == nil || !strings.Contains(err.Error(), "demo app servers") {
		t.Fatalf("second demo: %v", err)
	}
	r.leave("ns", "helper")
	if err := r.admit("ns", "helper"); err != nil {
		t.Fatalf("a freed slot stays taken: %v", err)
	}
}

func TestOnePodsLogLockNeverHoldsUpAnother(t *testing.T) {
	r := testRegistry(t)
	busy := r.logLock("pod-a")
	busy.Lock() // pod A's start-up log is being computed, slowly
	defer busy.Unlock()
	path := filepath.Join(t.TempDir(), "b.log")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.appendLog("pod-b", path, "GET / 200")
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(3 * time.Second):
		t.Fatal("pod B's log waited for pod A's")
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "stdout F GET / 200") {
		t.Fatalf("log: %q", data)
	}
}

func TestLogsStartOverAtTheirCap(t *testing.T) {
	r := testRegistry(t)
	path := filepath.Join(t.TempDir(), "c.log")
	line := strings.Repeat("x", 64<<10)
	for written := 0; written < logMaxBytes+(1<<20); written += len(line) {
		r.appendLog("pod", path, line)
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() >= logMaxBytes {
		t.Fatalf("log is %d bytes (%v)", info.Size(), err)
	}
	old, err := os.Stat(path + ".1")
	if err != nil || old.Size() < logMaxBytes {
		t.Fatalf("the old part: %v", err)
	}
}

func TestCappedBufferKeepsTheStartAndNeverFails(t *testing.T) {
	b := &cappedBuffer{max: 10}
	for i := 0; i < 5; i++ {
		if n, err := b.Write([]byte("abcdef")); n != 6 || err != nil {
			t.Fatalf("write: %d %v", n, err)
		}
	}
	if b.String() != "abcdefabcd" || !b.cut {
		t.Fatalf("kept %q cut=%v", b.String(), b.cut)
	}
}

func TestOnlyTheCurrentAndPreviousLogsAreKept(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-0.log", "web-1.log", "web-1.log.1", "web-2.log", "web-side-0.log"} {
		if err := os.WriteFile(filepath.Join(logs, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pruneLogs(dir, "web", 3)
	entries, _ := os.ReadDir(logs)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "web-2.log web-side-0.log" {
		t.Fatalf("left %v", left)
	}
}

package main

// Container logs: one file per container start, in the CRI log format kubelets keep
// ("<RFC3339Nano> stdout F <line>"), created on first use from the helper's start-up lines and
// appended to by the demo app's access log and the simulated probes.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const criTime = "2006-01-02T15:04:05.000000000Z07:00"

type logOptions struct {
	follow     bool
	timestamps bool
	tail       int64 // lines from the end; -1 for all
	limitBytes int64 // 0 for no limit
	since      time.Time
}

func (r *podRegistry) fetchForLogs(ctx context.Context, namespace, name, container string) (*pod, []byte, error) {
	p, raw, err := r.fetch(ctx, namespace, name)
	if err != nil {
		return nil, nil, err
	}
	if p.container(container) == nil {
		return nil, nil, fmt.Errorf("container %s is not valid for pod %s", container, name)
	}
	st := p.status(container)
	if st.State.Running == nil && st.State.Terminated == nil {
		return nil, nil, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, name)
	}
	return p, raw, nil
}

func (r *podRegistry) serveLogs(w http.ResponseWriter, req *http.Request) {
	ns, name, container := req.PathValue("ns"), req.PathValue("pod"), req.PathValue("container")
	opts, previous, err := parseLogOptions(req.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, raw, err := r.fetchForLogs(req.Context(), ns, name, container)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dir, err := r.prepare(req.Context(), p, raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	file, err := r.ensureLog(req.Context(), p, dir, container, previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if previous {
		opts.follow = false
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_ = r.follow(req.Context(), p, container, file, w, opts, false)
}

func parseLogOptions(q url.Values) (logOptions, bool, error) {
	opts := logOptions{tail: -1}
	opts.follow = q.Get("follow") == "true"
	opts.timestamps = q.Get("timestamps") == "true"
	previous := q.Get("previous") == "true"
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return opts, false, fmt.Errorf("tailLines must be a non-negative integer, got %q", v)
		}
		opts.tail = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return opts, false, fmt.Errorf("limitBytes must be a positive integer, got %q", v)
		}
		opts.limitBytes = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return opts, false, fmt.Errorf("sinceSeconds must be a positive integer, got %q", v)
		}
		opts.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, false, fmt.Errorf("sinceTime must be RFC 3339, got %q", v)
		}
		opts.since = t
	}
	return opts, previous, nil
}

// pruneLogs keeps a container's current and previous instance's logs, as a kubelet does: a
// container restarted every few seconds must not pile up files. Under the pod's log lock.
func pruneLogs(dir, container string, instance int) {
	entries, _ := os.ReadDir(filepath.Join(dir, "logs"))
	prefix := container + "-"
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".1"), ".log")
		n, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		if err == nil && strings.HasPrefix(name, prefix) && n < instance-1 {
			_ = os.Remove(filepath.Join(dir, "logs", e.Name()))
		}
	}
}

func logPath(dir, container string, instance int) string {
	return filepath.Join(dir, "logs", fmt.Sprintf("%s-%d.log", container, instance))
}

// ensureLog returns the log file of the container's current (or previous) instance, writing its
// start-up lines the first time anyone asks.
func (r *podRegistry) ensureLog(ctx context.Context, p *pod, dir, container string, previous bool) (string, error) {
	path, done, err := r.ensureLogAsync(ctx, p, dir, container, previous)
	if err != nil {
		return "", err
	}
	return path, <-done
}

// ensureLogAsync is ensureLog without the wait: the pod's log lock is taken at once, so nothing
// is appended before the start-up lines, which are written in the background (a port-forward
// starts its demo app meanwhile). A start-up log that fails is written as one line saying why.
func (r *podRegistry) ensureLogAsync(ctx context.Context, p *pod, dir, container string, previous bool) (string, <-chan error, error) {
	st := p.status(container)
	instance := st.RestartCount
	started := p.Status.StartTime
	if st.State.Running != nil {
		started = st.State.Running.StartedAt
	} else if st.State.Terminated != nil {
		started = st.State.Terminated.StartedAt
	}
	if previous {
		if st.RestartCount == 0 {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, p.Metadata.Name)
		}
		instance--
		if st.LastState.Terminated != nil {
			started = st.LastState.Terminated.StartedAt
		}
	}
	path := logPath(dir, container, instance)
	done := make(chan error, 1)
	l := r.logLock(p.Metadata.UID)
	l.Lock()
	if !previous {
		pruneLogs(dir, container, instance)
	}
	if _, err := os.Stat(path); err == nil {
		l.Unlock()
		done <- nil
		return path, done, nil
	}
	go func() {
		defer l.Unlock()
		lines, err := r.startupLines(ctx, p, dir, container)
		if err != nil {
			log.Printf("%v", err)
			if ctx.Err() != nil {
				done <- err // the client left: the next one tries again
				return
			}
			lines = []string{"(kubelab: " + err.Error() + ")"}
		}
		at, perr := time.Parse(time.RFC3339, started)
		if perr != nil {
			at = time.Now()
		}
		var buf bytes.Buffer
		for i, line := range lines {
			ts := at.Add(time.Duration(i) * time.Millisecond).UTC()
			fmt.Fprintf(&buf, "%s stdout F %s\n", ts.Format(criTime), line)
		}
		if werr := writeFileAtomic(path, buf.Bytes()); werr != nil {
			err = werr
		}
		done <- err
	}()
	return path, done, nil
}

const (
	startupLogTimeout  = 10 * time.Second
	startupLogMaxBytes = 1 << 20
	startupLogMaxLines = 2000
	// Like the kubelet's containerLogMaxSize: a log this big starts over, its old part kept once.
	logMaxBytes = 4 << 20
)

// startupLines runs the helper's startup-log (in a jail, as the pod's uid: the pod spec is
// learner input) and keeps at most startupLogMaxLines lines and startupLogMaxBytes bytes of
// it, for at most startupLogTimeout.
func (r *podRegistry) startupLines(ctx context.Context, p *pod, dir, container string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, startupLogTimeout)
	defer cancel()
	run, err := r.helper(ctx, p, dir, "startup-log", container, "helper", 128<<20, nil)
	if err != nil {
		return nil, err
	}
	defer run.release()
	out := &cappedBuffer{max: startupLogMaxBytes}
	var stderr cappedBuffer
	stderr.max = 4096
	run.cmd.Stdout, run.cmd.Stderr = out, &stderr
	if err := r.run(p.Metadata.UID, run.cmd); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("start-up log of %s/%s took longer than %s", p.ref(), container, startupLogTimeout)
		}
		return nil, fmt.Errorf("start-up log of %s/%s: %v: %s", p.ref(), container, err, bytes.TrimSpace(stderr.Bytes()))
	}
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > startupLogMaxLines || out.cut {
		lines = append(lines[:min(len(lines), startupLogMaxLines)],
			fmt.Sprintf("(kubelab: the simulated start-up log stops here, after %d lines)", startupLogMaxLines))
	}
	return lines, nil
}

// cappedBuffer keeps the first max bytes written to it and drops the rest (never an error, so
// the writer is not stopped mid-line).
type cappedBuffer struct {
	bytes.Buffer
	max int
	cut bool
}

func (c *cappedBuffer) Write(b []byte) (int, error) {
	if room := c.max - c.Len(); room < len(b) {
		c.cut = true
		if room > 0 {
			c.Buffer.Write(b[:room])
		}
		return len(b), nil
	}
	return c.Buffer.Write(b)
}

// logWriter appends whatever is written to it to a pod's log file, one timestamped CRI line
// per line.
func (r *podRegistry) logWriter(podUID, path string) io.WriteCloser {
	return &lineAppender{r: r, podUID: podUID, path: path}
}

type lineAppender struct {
	r       *podRegistry
	podUID  string
	path    string
	partial []byte
}

func (a *lineAppender) Write(b []byte) (int, error) {
	a.partial = append(a.partial, b...)
	for {
		i := bytes.IndexByte(a.partial, '\n')
		if i < 0 {
			break
		}
		a.r.appendLog(a.podUID, a.path, string(a.partial[:i]))
		a.partial = a.partial[i+1:]
	}
	if len(a.partial) > 16<<10 { // a line this long is cut, as the CRI does with "P" records
		a.r.appendLog(a.podUID, a.path, string(a.partial))
		a.partial = nil
	}
	return len(b), nil
}

func (a *lineAppender) Close() error {
	if len(a.partial) > 0 {
		a.r.appendLog(a.podUID, a.path, string(a.partial))
		a.partial = nil
	}
	return nil
}

// appendLog adds a line to one of the pod's logs (under the pod's log lock, never a global
// one), starting the file over when it reaches logMaxBytes (the old part is kept as .1).
func (r *podRegistry) appendLog(podUID, path, line string) {
	l := r.logLock(podUID)
	l.Lock()
	defer l.Unlock()
	if info, err := os.Stat(path); err == nil && info.Size() >= logMaxBytes {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(criTime), strings.TrimRight(line, "\r"))
}

type logLine struct {
	at  time.Time
	msg string
}

func parseCRILine(raw string) (logLine, bool) {
	ts, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return logLine{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return logLine{}, false
	}
	_, rest, _ = strings.Cut(rest, " ") // stream
	_, msg, _ := strings.Cut(rest, " ") // tag
	return logLine{at: at, msg: msg}, true
}

func (l logLine) format(timestamps bool) string {
	if timestamps {
		return l.at.UTC().Format(time.RFC3339Nano) + " " + l.msg + "\n"
	}
	return l.msg + "\n"
}

// follow writes the log (or, fromEnd, only what is written from now on) and, when asked to,
// keeps following it until the client leaves or this instance of the container ends.
func (r *podRegistry) follow(ctx context.Context, p *pod, container, path string, w io.Writer, opts logOptions, fromEnd bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }() // f is replaced when the log starts over
	reader := bufio.NewReader(f)
	written := int64(0)
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	emit := func(l logLine) bool {
		if !opts.since.IsZero() && l.at.Before(opts.since) {
			return true
		}
		s := l.format(opts.timestamps)
		if opts.limitBytes > 0 && written+int64(len(s)) > opts.limitBytes {
			s = s[:opts.limitBytes-written]
		}
		n, err := io.WriteString(w, s)
		written += int64(n)
		return err == nil && (opts.limitBytes == 0 || written < opts.limitBytes)
	}

	if fromEnd {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	} else {
		var lines []logLine
		for {
			raw, err := reader.ReadString('\n')
			if err != nil {
				// A line without its newline is still being written; leave it for the follow.
				if _, serr := f.Seek(-int64(len(raw)), io.SeekCurrent); serr == nil {
					reader.Reset(f)
				}
				break
			}
			if l, ok := parseCRILine(strings.TrimSuffix(raw, "\n")); ok {
				lines = append(lines, l)
			}
		}
		if opts.tail >= 0 && int64(len(lines)) > opts.tail {
			lines = lines[int64(len(lines))-opts.tail:]
		}
		for _, l := range lines {
			if !emit(l) {
				return nil
			}
		}
	}
	flush()
	if !opts.follow {
		return nil
	}
	instance := p.status(container).RestartCount
	var pending string
	for {
		raw, err := reader.ReadString('\n')
		pending += raw
		if err == nil {
			if l, ok := parseCRILine(strings.TrimSuffix(pending, "\n")); ok && !emit(l) {
				return nil
			}
			pending = ""
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		flush()
		if rotated(f, path) {
			// The log started over (logMaxBytes): go on with the new file.
			next, err := os.Open(path)
			if err != nil {
				return nil
			}
			f.Close()
			f = next
			reader.Reset(f)
			continue
		}
		if !r.stillRunning(ctx, p, container, instance) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stillRunning: the same instance of the container is running, as far as the watch knows.
func (r *podRegistry) stillRunning(ctx context.Context, seen *pod, container string, instance int) bool {
	uid := seen.Metadata.UID
	p, ok := r.lookup(uid)
	if !ok {
		// The watch may not have seen the pod start yet: ask the API server.
		fresh, _, err := r.fetchRunning(ctx, seen.Metadata.Namespace, seen.Metadata.Name)
		if err != nil || fresh.Metadata.UID != uid {
			return false
		}
		p = fresh
	}
	st := p.status(container)
	return st.RestartCount == instance && st.State.Running != nil
}

// rotated: the file open as f is no longer the one at path.
func rotated(f *os.File, path string) bool {
	open, err1 := f.Stat()
	now, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(open, now)
}

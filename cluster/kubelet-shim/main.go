// Command kubelet-shim answers the kubelet's debugging API (exec, attach, port-forward and
// container logs) for the pods kwok simulates, so kubectl's debugging verbs work on the embedded
// cluster. The API server reaches it as the nodes' kubelet endpoint; every command it runs goes
// through kubelab's pod helper, which starts it in a bubblewrap jail shaped like the container.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type options struct {
	listen    string
	tlsCert   string
	tlsKey    string
	clientCA  string
	apiServer string
	apiCA     string
	apiCert   string
	apiKey    string
	stateDir  string
	helper    string
	uidDir    string
	ns        limits
	caps      namespaceCaps
	learner   string
	metrics   string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:10250", "loopback address to serve the kubelet API on")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "serving certificate")
	flag.StringVar(&o.tlsKey, "tls-key", "", "serving key")
	flag.StringVar(&o.clientCA, "client-ca", "", "CA that signed the API server's kubelet client certificate")
	flag.StringVar(&o.apiServer, "api-server", "https://127.0.0.1:6443", "Kubernetes API server URL")
	flag.StringVar(&o.apiCA, "api-ca", "", "CA of the API server")
	flag.StringVar(&o.apiCert, "api-cert", "", "client certificate for the API server")
	flag.StringVar(&o.apiKey, "api-key", "", "client key for the API server")
	flag.StringVar(&o.stateDir, "state-dir", "", "directory for per-pod state (files, logs)")
	flag.StringVar(&o.helper, "helper", "", "kubelab's pod helper (exec, forward, startup-log)")
	flag.StringVar(&o.uidDir, "uid-lock-dir", "/run/kubelab/pod-uids",
		"where pod uids are leased machine-wide (flock files; every kubelab on a host must share it)")
	memoryMiB := flag.Int64("namespace-memory-mb", 1024, "memory of all of one namespace's pod processes and files")
	flag.IntVar(&o.ns.pids, "namespace-pids", 512, "processes of all of one namespace's pods")
	flag.IntVar(&o.ns.cpuPercent, "namespace-cpu-percent", 100, "CPU of all of one namespace's pods, in % of a core")
	flag.IntVar(&o.caps.helpers, "namespace-execs", 16, "execs one namespace may run at once")
	flag.IntVar(&o.caps.demos, "namespace-demo-servers", 8, "demo app servers one namespace may run at once")
	flag.StringVar(&o.metrics, "metrics-client", "",
		"common name of metrics-server's client certificate: it may read resource metrics, nothing else")
	flag.StringVar(&o.learner, "learner-service-account", "learner",
		"in namespaces with this ServiceAccount, pods see only the Secrets it may read (\"\" to trust every pod)")
	flag.Parse()
	o.ns.memory = *memoryMiB << 20
	for name, value := range map[string]string{
		"tls-cert": o.tlsCert, "tls-key": o.tlsKey, "client-ca": o.clientCA, "api-ca": o.apiCA,
		"api-cert": o.apiCert, "api-key": o.apiKey, "state-dir": o.stateDir, "helper": o.helper,
	} {
		if value == "" {
			log.Fatalf("kubelet-shim: --%s is required", name)
		}
	}
	return o
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	closeOnExecInherited()
	o := parseFlags()
	if err := run(o); err != nil {
		log.Fatalf("kubelet-shim: %v", err)
	}
}

func run(o options) error {
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", o.listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// The pods' jails and the apiserver are the only clients; nothing beyond this machine.
		return fmt.Errorf("--listen must be a loopback address, got %q", o.listen)
	}
	if err := os.MkdirAll(o.stateDir, 0o711); err != nil {
		return err
	}
	// Traversable by the pods' uids whatever the umask: bwrap mounts their trees by a path below.
	if err := os.Chmod(o.stateDir, 0o711); err != nil {
		return err
	}
	api, err := newAPIClient(o.apiServer, o.apiCA, o.apiCert, o.apiKey)
	if err != nil {
		return err
	}
	serverTLS, err := servingTLS(o.tlsCert, o.tlsKey, o.clientCA)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	pv, err := newPrivileged(o.helper, o.uidDir, o.stateDir, o.ns)
	if err != nil {
		return err
	}
	pods := newPodRegistry(api, o.stateDir, pv, o.caps)
	pods.learnerAccount = o.learner
	go pods.watch(ctx)
	go pods.prober.run(ctx)
	go newMemqWorkers(pods).run(ctx)

	apiServer, err := certificateName(o.apiCert)
	if err != nil {
		return fmt.Errorf("--api-cert: %w", err)
	}
	rights := clientRights{apiServer: apiServer, metrics: o.metrics}
	srv := &http.Server{
		Addr:              o.listen,
		Handler:           rights.guard(routes(pods)),
		TLSConfig:         serverTLS,
		ReadHeaderTimeout: 10 * time.Second,
		// SPDY upgrades need HTTP/1.1: an empty map turns HTTP/2 off.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	errs := make(chan error, 1)
	go func() { errs <- srv.ListenAndServeTLS("", "") }()
	log.Printf("serving the kubelet API on https://%s (state in %s)", o.listen, o.stateDir)

	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pods.killAll()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// servingTLS accepts only clients holding a certificate from the cluster CA: the API server's
// kubelet client certificate. Nothing else on this machine may exec into pods behind its back.
func servingTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("client CA %s holds no certificate", clientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// closeOnExecInherited marks every descriptor the shim inherited beyond stdio close-on-exec.
// os/exec hands children only what it is given, but a descriptor inherited without
// FD_CLOEXEC (from whatever started the shim) would otherwise reach every pod's jail.
func closeOnExecInherited() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

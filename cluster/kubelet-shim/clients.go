package main

// Who may call what. Every client holds a certificate from the cluster CA (servingTLS), but not
// every such client may reach into pods: exec, attach, port-forward and logs are the API
// server's alone (its kubelet client certificate, the shim's own --api-cert), and metrics-server
// (--metrics-client) may only read resource metrics. A metrics-server that went wrong can then
// read usage figures, and nothing of any pod.

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
)

type clientRights struct {
	apiServer string // common name of the API server's kubelet client certificate
	metrics   string // common name of metrics-server's client certificate ("" for none)
}

// certificateName reads the common name of the first certificate in a PEM file.
func certificateName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	return cert.Subject.CommonName, nil
}

// allowed says whether the client named `name` may call `path`.
func (c clientRights) allowed(name, path string) bool {
	if name == "" {
		return false
	}
	if name == c.apiServer {
		return true
	}
	return name == c.metrics && (path == "/healthz" || strings.HasPrefix(path, "/metrics/"))
}

// guard refuses, with 403, a request whose verified client may not call its path.
func (c clientRights) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			name = r.TLS.VerifiedChains[0][0].Subject.CommonName
		}
		if !c.allowed(name, r.URL.Path) {
			http.Error(w, fmt.Sprintf("%q may not call %s on kubelab's simulated kubelet", name, r.URL.Path),
				http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

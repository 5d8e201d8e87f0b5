package main

// A minimal Kubernetes API client: plain HTTPS + JSON with the cluster admin's certificate.
// client-go would triple the binary and the build time for the four calls made here.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

var errNotFound = errors.New("not found")

type apiClient struct {
	base   string
	client *http.Client
	// watch has no overall timeout; the watch request itself carries timeoutSeconds.
	watcher *http.Client
}

func newAPIClient(server, caFile, certFile, keyFile string) (*apiClient, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("API CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("API CA %s holds no certificate", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("API client certificate: %w", err)
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &apiClient{
		base:    server,
		client:  &http.Client{Transport: transport, Timeout: 15 * time.Second},
		watcher: &http.Client{Transport: transport},
	}, nil
}

func (a *apiClient) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotFound {
		return errNotFound
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (a *apiClient) get(ctx context.Context, path string, out any) error {
	return a.do(ctx, http.MethodGet, path, "", nil, out)
}

func (a *apiClient) patchStatus(ctx context.Context, namespace, name string, patch any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/status", url.PathEscape(namespace), url.PathEscape(name))
	return a.do(ctx, http.MethodPatch, path, "application/strategic-merge-patch+json", body, nil)
}

func (a *apiClient) createEvent(ctx context.Context, namespace string, event any) error {
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	return a.do(ctx, http.MethodPost, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/events", "application/json", body, nil)
}

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchPods streams pod events from resourceVersion on; it returns when the stream ends.
func (a *apiClient) watchPods(ctx context.Context, resourceVersion string, handle func(watchEvent)) error {
	q := url.Values{"watch": {"1"}, "resourceVersion": {resourceVersion}, "timeoutSeconds": {"300"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/pods?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.watcher.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watch pods: %s", resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.Type == "ERROR" {
			return fmt.Errorf("watch pods: %s", ev.Object)
		}
		handle(ev)
	}
}

// canGet asks the API server (a SubjectAccessReview) whether user may get the named object.
func (a *apiClient) canGet(ctx context.Context, user string, groups []string, namespace, resource, name string) (bool, error) {
	review := map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SubjectAccessReview",
		"spec": map[string]any{
			"user":   user,
			"groups": groups,
			"resourceAttributes": map[string]any{
				"namespace": namespace, "verb": "get", "resource": resource, "name": name,
			},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return false, err
	}
	var answer struct {
		Status struct {
			Allowed bool `json:"allowed"`
		} `json:"status"`
	}
	err = a.do(ctx, http.MethodPost, "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json", body, &answer)
	return answer.Status.Allowed, err
}

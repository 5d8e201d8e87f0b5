package main

// A pod's state directory: its inputs for the helper (pod.json, services.json, refs.json with
// the ConfigMaps and Secrets it names, filtered by what its learner may read), its host uid and
// tmpfs, prepared before any streaming verb runs, and the small file writers used for them.

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxRefsBytes bounds the ConfigMap and Secret data one pod's refs.json holds on disk.
const maxRefsBytes = 8 << 20

// runningContainer fetches a running pod, checks it has the container and prepares its state
// directory: what every streaming verb needs first.
func (r *podRegistry) runningContainer(ctx context.Context, name, container string) (*pod, string, error) {
	namespace, podName, _ := strings.Cut(name, "/")
	p, raw, err := r.fetchRunning(ctx, namespace, podName)
	if err != nil {
		return nil, "", err
	}
	if p.container(container) == nil {
		return nil, "", fmt.Errorf("container %q not found in pod %s", container, p.ref())
	}
	dir, err := r.prepare(ctx, p, raw)
	return p, dir, err
}

// prepare writes the pod's inputs for the helper and gives the pod its host uid and its tmpfs.
// services.json and refs.json are what the container saw when it started, so they are written
// once; pod.json follows the pod. Everything here is root's: the pod's own files live only in
// the tmpfs (see privileged.go).
func (r *podRegistry) prepare(ctx context.Context, p *pod, raw []byte) (string, error) {
	l := r.dirLock(p.Metadata.UID)
	l.Lock()
	defer l.Unlock()
	dir := r.dir(p.Metadata.UID)
	// Traversable (not readable) for the pod's unprivileged uid, which bwrap runs as.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return "", err
	}
	if err := r.claimUID(p, dir); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, "pod.json"), raw); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "refs.json")); err == nil {
		return dir, nil
	}
	services, err := r.visibleServices(ctx, p.Metadata.Namespace)
	if err != nil {
		return "", err
	}
	refs, err := r.references(ctx, p)
	if err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(dir, "services.json"), services); err != nil {
		return "", err
	}
	// refs.json last: its presence marks the directory complete. It holds Secrets: root only;
	// the builder gets it as an open descriptor.
	data, err := json.Marshal(refs)
	if err != nil {
		return "", err
	}
	return dir, writeFile(filepath.Join(dir, "refs.json"), data, 0o600)
}

// claimUID leases the pod's namespace its host uid (keeping the one that owns the pod's tree
// from before a restart, when it can) and mounts the tree. Run under the pod's lock.
func (r *podRegistry) claimUID(p *pod, dir string) error {
	hint, _ := treeOwner(dir)
	uid, fresh, err := r.pv.uids.acquire(p.Metadata.Namespace, p.Metadata.UID, hint)
	if err != nil {
		return err
	}
	if fresh {
		// A uid new to this namespace: nothing of an earlier holder may live on in it.
		killUID(uid)
	}
	if err := r.pv.cgroups.namespaceGroup(uid, r.pv.ns, fresh); err != nil {
		log.Printf("cgroup of namespace %s: %v (rlimits still apply)", p.Metadata.Namespace, err)
	}
	if err := r.pv.treeEnsure(dir, uid); err != nil {
		r.releaseUID(p.Metadata.UID)
		return err
	}
	r.mu.Lock()
	r.hostUIDs[p.Metadata.UID] = uid
	r.mu.Unlock()
	return nil
}

func (r *podRegistry) releaseUID(podUID string) {
	if uid, freed := r.pv.uids.release(podUID); freed {
		r.pv.cgroups.remove("u" + strconv.Itoa(uid))
		killUID(uid)
	}
}

func (r *podRegistry) hostUID(podUID string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	uid, ok := r.hostUIDs[podUID]
	return uid, ok
}

func (r *podRegistry) visibleServices(ctx context.Context, namespace string) ([]json.RawMessage, error) {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := r.api.get(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/services", &list); err != nil {
		return nil, err
	}
	if namespace != "default" {
		var kubernetes json.RawMessage
		if err := r.api.get(ctx, "/api/v1/namespaces/default/services/kubernetes", &kubernetes); err == nil {
			list.Items = append(list.Items, kubernetes)
		}
	}
	return list.Items, nil
}

// references fetches the ConfigMaps and Secrets the pod's env and volumes name, as the kubelet
// would; the helper turns them into environment variables and files.
func (r *podRegistry) references(ctx context.Context, p *pod) (map[string]map[string]json.RawMessage, error) {
	configMaps, secrets := map[string]bool{}, map[string]bool{}
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				configMaps[e.ValueFrom.ConfigMapKeyRef.Name] = true
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secrets[e.ValueFrom.SecretKeyRef.Name] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				configMaps[e.ConfigMapRef.Name] = true
			}
			if e.SecretRef != nil {
				secrets[e.SecretRef.Name] = true
			}
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap != nil {
			configMaps[v.ConfigMap.Name] = true
		}
		if v.Secret != nil {
			secrets[v.Secret.SecretName] = true
		}
	}
	out := map[string]map[string]json.RawMessage{"configmaps": {}, "secrets": {}}
	total := 0
	fetch := func(kind, resource string, names map[string]bool) error {
		for name := range names {
			var obj struct {
				Data json.RawMessage `json:"data"`
			}
			path := fmt.Sprintf("/api/v1/namespaces/%s/%s/%s", url.PathEscape(p.Metadata.Namespace), resource, url.PathEscape(name))
			err := r.api.get(ctx, path, &obj)
			if err == errNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if obj.Data == nil {
				obj.Data = json.RawMessage("{}")
			}
			total += len(obj.Data)
			if total > maxRefsBytes {
				return fmt.Errorf("the ConfigMaps and Secrets pod %s names hold more than %d MiB; "+
					"kubelab's simulated pods take at most that much (they are kept on the node's disk)",
					p.ref(), maxRefsBytes>>20)
			}
			out[kind][name] = obj.Data
		}
		return nil
	}
	if err := fetch("configmaps", "configmaps", configMaps); err != nil {
		return nil, err
	}
	readable, err := r.secretsReadable(ctx, p.Metadata.Namespace, secrets)
	if err != nil {
		return nil, err
	}
	if err := fetch("secrets", "secrets", readable); err != nil {
		return nil, err
	}
	return out, nil
}

// secretsReadable keeps the Secrets the pod may see. The shim reads with the cluster admin's
// rights, but a pod must not show more than its creator may read: in a namespace with a learner
// ServiceAccount (a kubelab learner environment), only Secrets a SubjectAccessReview lets that
// account get; in others (kube-system, namespaces an administrator runs), all of them.
func (r *podRegistry) secretsReadable(ctx context.Context, namespace string, names map[string]bool) (map[string]bool, error) {
	if len(names) == 0 || r.learnerAccount == "" {
		return names, nil
	}
	var account struct{}
	path := fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s", url.PathEscape(namespace), url.PathEscape(r.learnerAccount))
	err := r.api.get(ctx, path, &account)
	if err == errNotFound {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	user := "system:serviceaccount:" + namespace + ":" + r.learnerAccount
	allowed := map[string]bool{}
	for name := range names {
		ok, err := r.api.canGet(ctx, user, []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace,
			"system:authenticated"}, namespace, "secrets", name)
		if err != nil {
			return nil, err
		}
		if ok {
			allowed[name] = true
		} else {
			log.Printf("pod in %s names Secret %s, which %s may not read: not given to the pod", namespace, name, user)
		}
	}
	return allowed, nil
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

func writeFileAtomic(path string, data []byte) error { return writeFile(path, data, 0o644) }

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Package deploycheck holds no code, only tests: they render each kustomize overlay of deploy/k8s
// with `kubectl kustomize`, decode every object strictly into its k8s.io/api type (a misspelled or
// unknown field fails), and check that the manifests match the binaries: probes on the ports and
// paths the admin listeners serve, only environment variables the config definitions read, a
// configuration the binaries accept, selectors that select pods that exist, alerts on metrics the
// code exports, and a Dockerfile built with the same flags as `make build`.
//
// kubectl must be on PATH; without it the tests fail under CI=true and are skipped elsewhere.
package deploycheck

// Package deploycheck holds no code, only tests: they render each kustomize overlay of deploy/k8s
// with `kubectl kustomize` and the Helm chart deploy/helm/hzhook with `helm template` (the real Helm
// engine), decode every object strictly into its k8s.io/api type (a misspelled or unknown field
// fails), and check that the manifests match the binaries: probes on the ports and paths the admin
// listeners serve, only environment variables the config definitions read, a configuration the
// binaries accept, selectors that select pods that exist, a nats.conf nats-server accepts, alerts
// and Grafana panels on metrics and labels the code exports, the chart's schema covering every
// setting, the chart with values-prod.yaml equal to the prod overlay, and a Dockerfile built with
// the same flags as `make build`.
//
// kubectl and helm (`make tools` builds it into bin/tools) are needed; without them the tests fail
// under CI=true and are skipped elsewhere.
package deploycheck

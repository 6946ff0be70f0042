package deploycheck

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// tb is what the checks need of a test: a *testing.T, or the recorder with which checks_test.go
// proves that each check catches the mistake it is for.
type tb interface {
	Errorf(format string, args ...any)
	FailNow()
	Helper()
	TempDir() string
}

// workload is a Deployment or StatefulSet seen through what the checks need: its pod template.
type workload struct {
	Kind     string
	Name     string
	Replicas int32
	Selector *metav1.LabelSelector
	Template *corev1.PodTemplateSpec
	Claims   map[string]bool // volumeClaimTemplates of a StatefulSet, by name
}

func (w workload) String() string { return w.Kind + " " + w.Name }

// workloads lists every Deployment and StatefulSet of the manifest.
func (m *manifest) workloads() []workload {
	var out []workload
	for _, o := range m.objects {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{Kind: o.Kind, Name: o.Name, Replicas: replicas(v.Spec.Replicas), Selector: v.Spec.Selector, Template: &v.Spec.Template})
		case *appsv1.StatefulSet:
			claims := map[string]bool{}
			for _, c := range v.Spec.VolumeClaimTemplates {
				claims[c.Name] = true
			}
			out = append(out, workload{Kind: o.Kind, Name: o.Name, Replicas: replicas(v.Spec.Replicas), Selector: v.Spec.Selector, Template: &v.Spec.Template, Claims: claims})
		}
	}
	return out
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// selecting returns the workloads whose pod template labels match sel (a nil selector matches none).
func (m *manifest) selecting(sel labels.Selector) []workload {
	var out []workload
	for _, w := range m.workloads() {
		if sel != nil && sel.Matches(labels.Set(w.Template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

// containerPort finds the port of a pod that a Service targetPort, probe or policy port names:
// by name for a named port, by number otherwise.
func containerPort(pod *corev1.PodSpec, port intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if port.Type == intstr.String && p.Name == port.StrVal ||
				port.Type == intstr.Int && p.ContainerPort == port.IntVal {
				return p, true
			}
		}
	}
	return corev1.ContainerPort{}, false
}

// containerPortOf is containerPort limited to one container (probes belong to their container).
func containerPortOf(c corev1.Container, port intstr.IntOrString) (corev1.ContainerPort, bool) {
	return containerPort(&corev1.PodSpec{Containers: []corev1.Container{c}}, port)
}

// configMap and secret find a rendered object by its final (possibly hash-suffixed) name.
func (m *manifest) configMap(name string) *corev1.ConfigMap {
	for _, c := range each[*corev1.ConfigMap](m) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (m *manifest) secret(name string) *corev1.Secret {
	for _, s := range each[*corev1.Secret](m) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// secretData returns a Secret's key, whether given as data or stringData.
func secretData(s *corev1.Secret, key string) (string, bool) {
	if v, ok := s.StringData[key]; ok {
		return v, true
	}
	v, ok := s.Data[key]
	return string(v), ok
}

func (m *manifest) service(name string) *corev1.Service {
	for _, s := range each[*corev1.Service](m) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// servicePort finds a Service port by its number.
func servicePort(svc *corev1.Service, port int) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if int(p.Port) == port {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

package deploycheck

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kinds maps "apiVersion/kind" to a constructor of the type an object of that kind decodes into.
// An object of any other kind fails the render test: add its type here first.
func kinds() map[string]func() any {
	return map[string]func() any{
		"v1/Namespace":                            func() any { return &corev1.Namespace{} },
		"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
		"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
		"v1/Secret":                               func() any { return &corev1.Secret{} },
		"v1/Service":                              func() any { return &corev1.Service{} },
		"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
		"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
		"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
		"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
		"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
		"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
		"keda.sh/v1alpha1/ScaledObject":           func() any { return &scaledObject{} },
		"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
		"monitoring.coreos.com/v1/PrometheusRule": func() any { return &prometheusRule{} },
	}
}

// The custom resources below carry only the fields the manifests use; decoding is strict, so a
// field outside them (or misspelled) fails until it is added here on purpose.

// scaledObject is a KEDA ScaledObject (keda.sh/v1alpha1).
type scaledObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// serviceMonitor is a Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1).
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// prometheusRule is a Prometheus Operator PrometheusRule (monitoring.coreos.com/v1).
type prometheusRule struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

package deploycheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

// TestDecodeIsStrict: a misspelled or unknown field, a duplicate key or an unregistered kind fails,
// in core types and in the custom resources alike.
func TestDecodeIsStrict(t *testing.T) {
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: receiver\nspec:\n"
	cases := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"valid deployment", deployment + "  replicas: 3\n", ""},
		{"misspelled field", deployment + "  replica: 3\n", `unknown field "replica"`},
		{"field in the wrong place", deployment + "  template:\n    spec:\n      containers:\n        - name: a\n          runAsNonRoot: true\n", `unknown field "runAsNonRoot"`},
		{"duplicate key", deployment + "  replicas: 3\n  replicas: 2\n", "already set"},
		{"wrong type", deployment + "  replicas: three\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", "no Go type registered"},
		{"scaled object field outside the known ones", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: w\nspec:\n  idleReplicaCount: 0\n", `unknown field "idleReplicaCount"`},
		{"rule field misspelled", "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: r\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expresion: up\n", `unknown field "expresion"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := decode([]byte(tc.doc))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			d, ok := obj.Obj.(*appsv1.Deployment)
			require.True(t, ok, "decoded into %T", obj.Obj)
			assert.Equal(t, int32(3), *d.Spec.Replicas)
		})
	}
}

// TestSplitDocuments: kubectl's "---" separator lines split the stream; empty documents are dropped.
func TestSplitDocuments(t *testing.T) {
	docs := splitDocuments("a: 1\n---\n\n---\nb: |\n  x---y\n---\n")
	assert.Equal(t, []string{"a: 1\n", "b: |\n  x---y\n"}, docs)
}

package deploycheck

import (
	"path"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/rules"
)

// checkRulesFile: every worker's HZ_RULES_FILE is mounted from a ConfigMap directory (not subPath,
// so edits reload without a restart) that holds a rules file the worker accepts.
func checkRulesFile(t tb, _ overlay, m *manifest) {
	for _, h := range m.hzContainers(t) {
		if h.binary != "worker" {
			continue
		}
		eff := effective(h)
		require.NotNil(t, eff, "%s: settings do not parse", h)
		file := eff["rules"]
		if file == "" {
			continue
		}
		var volume string
		for _, vm := range h.c.VolumeMounts {
			if vm.MountPath == path.Dir(file) {
				assert.Empty(t, vm.SubPath, "%s: a subPath mount never sees ConfigMap updates; mount the directory", h)
				volume = vm.Name
			}
		}
		require.NotEmpty(t, volume, "%s: no volume is mounted at %s, the directory of HZ_RULES_FILE", h, path.Dir(file))
		var cmName string
		for _, v := range h.w.Template.Spec.Volumes {
			if v.Name == volume && v.ConfigMap != nil {
				cmName = v.ConfigMap.Name
			}
		}
		require.NotEmpty(t, cmName, "%s: %s is not mounted from a ConfigMap", h, path.Dir(file))
		cm := m.configMap(cmName)
		require.NotNil(t, cm, "%s: ConfigMap %s is not in the manifest", h, cmName)
		content, ok := cm.Data[path.Base(file)]
		require.True(t, ok, "ConfigMap %s has no key %s", cmName, path.Base(file))
		_, err := rules.Parse([]byte(content))
		assert.NoError(t, err, "ConfigMap %s: the worker cannot load its rules file", cmName)
	}
}

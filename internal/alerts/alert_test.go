package alerts

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/rules"
)

func TestAlertIDIsPerIssuanceAndType(t *testing.T) {
	const tbs = "bb00000000000000000000000000000000000000000000000000000000000000"
	weak := rules.Finding{Type: rules.TypeWeakKey, TBSSHA256: tbs, SHA256: "1"}
	weakOnCert := rules.Finding{Type: rules.TypeWeakKey, TBSSHA256: tbs, SHA256: "2"} // the precertificate's twin
	wild := rules.Finding{Type: rules.TypeWildcard, TBSSHA256: tbs}
	exp30 := rules.Finding{Type: rules.TypeExpiringSoon, TBSSHA256: tbs, ThresholdDays: 30}
	exp7 := rules.Finding{Type: rules.TypeExpiringSoon, TBSSHA256: tbs, ThresholdDays: 7}

	id := func(f rules.Finding) string { return New(f, rules.Cert{}, sampleAlert().CreatedAt).ID }
	assert.Equal(t, id(weak), id(weakOnCert), "precertificate and certificate share the alert")
	assert.Equal(t, ID(tbs, "weakKey"), id(weak))
	assert.Len(t, id(weak), 64)
	assert.NotEqual(t, id(weak), id(wild))
	assert.NotEqual(t, id(exp30), id(exp7), "each expiry threshold is its own alert")
}

func TestAlertJSONSchema(t *testing.T) {
	body, err := json.Marshal(sampleAlert())
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, "weakKey", got["type"])
	assert.Equal(t, sampleAlert().ID, got["id"])
	assert.Equal(t, "2026-01-02T03:04:05Z", got["createdAt"])
	assert.NotContains(t, got, "thresholdDays")
	cert := got["certificate"].(map[string]any)
	for _, k := range []string{"sha256", "tbsSha256", "serial", "subject", "issuer", "issuerCa", "hosts", "notBefore", "notAfter", "precert"} {
		assert.Contains(t, cert, k)
	}
	assert.NotContains(t, cert, "effectiveNotAfter", "unknown times are omitted")
}

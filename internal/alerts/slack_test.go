package alerts

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlackPayloadShape(t *testing.T) {
	rec, url := serve(t, http.StatusOK)
	require.NoError(t, newSink(t, KindSlack, url, nil).Deliver(t.Context(), sampleAlert()))
	reqs := rec.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "application/json", reqs[0].header.Get("Content-Type"))

	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].body, &msg))
	assert.Contains(t, msg.Text, "weakKey")
	assert.Contains(t, msg.Text, "RSA key of 1024 bits")
	require.Len(t, msg.Blocks, 3)
	assert.Equal(t, "header", msg.Blocks[0].Type)
	assert.Equal(t, "plain_text", msg.Blocks[0].Text.Type)
	assert.Equal(t, "Certificate finding: weakKey", msg.Blocks[0].Text.Text)
	assert.Equal(t, "section", msg.Blocks[1].Type)
	assert.Equal(t, "mrkdwn", msg.Blocks[1].Text.Type)
	require.NotEmpty(t, msg.Blocks[1].Fields)
	assert.Equal(t, "*Names*\n*.example.com, &lt;!channel&gt;.example.com", msg.Blocks[1].Fields[0].Text,
		"names from certificates are escaped: no channel ping")
	assert.Equal(t, "*Issuer*\nSome CA", msg.Blocks[1].Fields[1].Text)
	assert.Equal(t, "context", msg.Blocks[2].Type)
	assert.Contains(t, msg.Blocks[2].Elements[0].Text, sampleAlert().ID)
	for _, text := range []string{msg.Text, msg.Blocks[1].Text.Text, msg.Blocks[2].Elements[0].Text} {
		assert.NotContains(t, text, "<!channel>")
	}
}

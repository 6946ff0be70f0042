package hzctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
)

// adminOptions are the flags every command of the worker admin API shares.
type adminOptions struct {
	API     string
	Token   string
	JSON    bool
	Timeout time.Duration
}

// bindAdminOptions defines --api, --json, --timeout and the HZ_ADMIN_TOKEN variable on set.
func bindAdminOptions(set *config.Set, o *adminOptions, serves string, timeout time.Duration) {
	set.String(&o.API, "api", "", "http://127.0.0.1:9091", "worker admin listener serving the "+serves)
	set.SecretEnv(&o.Token, "HZ_ADMIN_TOKEN", "admin API bearer token")
	set.Bool(&o.JSON, "json", "", false, "print the API's JSON answer for scripts instead of a table")
	set.Duration(&o.Timeout, "timeout", "", timeout, "request timeout")
}

// adminAPI calls the worker admin API with the bearer token.
type adminAPI struct {
	base  string
	token string
	http  *http.Client
}

func newAdminAPI(o adminOptions) adminAPI {
	return adminAPI{base: strings.TrimRight(o.API, "/"), token: o.Token, http: &http.Client{Timeout: o.Timeout}}
}

// do sends the request and decodes a 2xx answer into out (when not nil); it returns the raw answer
// too. Other answers become errors carrying the API's ErrorResponse message.
func (c adminAPI) do(ctx context.Context, method, path string, q url.Values, out any) ([]byte, error) {
	return c.send(ctx, method, path, q, nil, out)
}

// send is do with a JSON request body (none when in is nil).
func (c adminAPI) send(ctx context.Context, method, path string, q url.Values, in, out any) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, reqBody)
	if err != nil {
		return nil, fmt.Errorf("--api: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "hzctl (hzhook)")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiwire.ErrorResponse
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
			msgs := make([]string, len(e.Errors))
			for i, m := range e.Errors {
				msgs[i] = m.Message
			}
			msg = strings.Join(msgs, "; ")
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			msg += " (set HZ_ADMIN_TOKEN)"
		}
		return nil, fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, msg)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return body, nil
}

// printJSON writes an API answer indented, for scripts; err (from the call) is passed through.
func printJSON(w io.Writer, raw []byte, err error) error {
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") != nil {
		return errors.New("answer is not JSON")
	}
	pretty.WriteByte('\n')
	_, err = w.Write(pretty.Bytes())
	return err
}

// orDash shows an empty table cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate keeps a table cell on one line of at most n characters.
func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

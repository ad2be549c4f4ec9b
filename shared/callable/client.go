package callable

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls callable functions over HTTP, as the client SDKs'
// httpsCallable does. BaseURL is "http://host:port/{project}/{region}" on the
// emulators, or "https://{region}-{project}.cloudfunctions.net".
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// Call invokes name with data and decodes the result into result (which may
// be nil). idToken may be empty for an anonymous call. A failure the function
// reported is returned as *Error.
func (c *Client) Call(ctx context.Context, name, idToken string, data, result any) error {
	body, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return fmt.Errorf("callable %s: encode: %w", name, err)
	}
	return c.CallRaw(ctx, name, idToken, body, result)
}

// CallRaw sends body as is, for tests of malformed requests.
func (c *Client) CallRaw(ctx context.Context, name, idToken string, body []byte, result any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("callable %s: %w", name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("callable %s: read: %w", name, err)
	}
	var envelope struct {
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	// Like the SDKs: the body's error wins whatever the HTTP code.
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("callable %s: HTTP %d, body not JSON: %.200s", name, resp.StatusCode, raw)
	}
	if envelope.Error != nil {
		return envelope.Error
	}
	if resp.StatusCode != http.StatusOK || envelope.Result == nil {
		return fmt.Errorf("callable %s: HTTP %d without result: %.200s", name, resp.StatusCode, raw)
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(envelope.Result, result)
}

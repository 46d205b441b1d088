package alertstate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// APIClient reads the active alerts from Alertmanager's API v2.
type APIClient struct {
	URL    *url.URL
	Client *http.Client
	Now    func() time.Time // ends alerts; nil is time.Now
}

// NewAPIClient returns a client for the Alertmanager at base (e.g. http://127.0.0.1:9093).
func NewAPIClient(base string, timeout time.Duration) (*APIClient, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/api/v2/alerts")
	if err != nil {
		return nil, fmt.Errorf("alertmanager url: %w", err)
	}
	return &APIClient{URL: u, Client: &http.Client{Timeout: timeout}}, nil
}

// Alerts returns every alert Alertmanager holds as active, silenced or
// inhibited: silences mute notifications, not the facts routes follow.
func (c *APIClient) Alerts(ctx context.Context) ([]Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying alertmanager: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("querying alertmanager: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	// The part of the API's gettableAlert we use.
	var raw []struct {
		Labels      map[string]string `json:"labels"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		UpdatedAt   time.Time         `json:"updatedAt"`
		Fingerprint string            `json:"fingerprint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("decoding alertmanager alerts: %w", err)
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	out := make([]Event, 0, len(raw))
	for _, a := range raw {
		if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
			continue // already ended
		}
		fp := a.Fingerprint
		if fp == "" {
			fp = Fingerprint(a.Labels)
		}
		out = append(out, Event{Fingerprint: fp, Labels: a.Labels, Status: Firing, StartsAt: a.StartsAt, EndsAt: a.EndsAt, UpdatedAt: a.UpdatedAt})
	}
	return out, nil
}

// Fingerprint computes Alertmanager's fingerprint of a label set.
func Fingerprint(labels map[string]string) string {
	return model.Fingerprint(model.LabelsToSignature(labels)).String()
}

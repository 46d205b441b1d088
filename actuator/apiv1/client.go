package apiv1

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slaroute/slaroute/actuator/state"
)

// maxBody bounds an answer the client reads.
const maxBody = 16 << 20

// Client talks to one route_actuator.
type Client struct {
	URL  *url.URL     // e.g. http://127.0.0.1:9754 (a path prefix is kept)
	HTTP *http.Client // authentication and TLS (prometheus/common/config)
	Who  string       // sent as HeaderWho when set
}

// Error is an answer other than 2xx.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Do sends a request with an optional JSON body and decodes a 2xx JSON
// answer into out (when out is set and the answer has a body). It returns
// the raw answer for callers that print it.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	u := c.URL.JoinPath(path)
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Who != "" {
		req.Header.Set(HeaderWho, c.Who)
	}
	resp, err := cmp.Or(c.HTTP, http.DefaultClient).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading answer: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(raw))
		}
		return raw, &Error{Status: resp.StatusCode, Message: eb.Error}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("%s %s: decoding answer: %w", method, u.Redacted(), err)
		}
	}
	return raw, nil
}

// Routes reads GET /api/v1/routes.
func (c *Client) Routes(ctx context.Context) (r Routes, raw []byte, err error) {
	raw, err = c.Do(ctx, http.MethodGet, PathRoutes, nil, nil, &r)
	return r, raw, err
}

// Drains reads GET /api/v1/drains.
func (c *Client) Drains(ctx context.Context) (d Drains, raw []byte, err error) {
	raw, err = c.Do(ctx, http.MethodGet, PathDrains, nil, nil, &d)
	return d, raw, err
}

// AddDrain posts a drain and returns it as recorded.
func (c *Client) AddDrain(ctx context.Context, req DrainRequest) (d state.Drain, raw []byte, err error) {
	raw, err = c.Do(ctx, http.MethodPost, PathDrains, nil, req, &d)
	return d, raw, err
}

// RemoveDrain ends nexthop's drains (only route's when route is set); the
// answer lists them, or is empty (204).
func (c *Client) RemoveDrain(ctx context.Context, nexthop, route string) (d Drains, raw []byte, err error) {
	var q url.Values
	if route != "" {
		q = url.Values{"route": {route}}
	}
	raw, err = c.Do(ctx, http.MethodDelete, PathDrains+"/"+url.PathEscape(nexthop), q, nil, &d)
	return d, raw, err
}

// Events reads GET /api/v1/events after since, the newest limit (0: all kept).
func (c *Client) Events(ctx context.Context, since uint64, limit int) (e Events, raw []byte, err error) {
	q := url.Values{}
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	raw, err = c.Do(ctx, http.MethodGet, PathEvents, q, nil, &e)
	return e, raw, err
}

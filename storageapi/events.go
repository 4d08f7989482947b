package storageapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Event types.
const (
	EventInfo    = "info"
	EventSuccess = "success"
	EventWarn    = "warn"
	EventError   = "error"
)

// CreateEventRequest is a Storage event. Params and Results are sent as JSON-encoded
// strings, as Storage clients do.
type CreateEventRequest struct {
	Component   string
	Message     string
	Type        string // info (default), success, warn or error
	Description string
	Duration    float64 // seconds
	RunID       string
	Params      any
	Results     any
}

// Event is a stored Storage event.
type Event struct {
	ID         string          `json:"id"`
	UUID       string          `json:"uuid"`
	Event      string          `json:"event"`
	Component  string          `json:"component"`
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	Created    Time            `json:"created"`
	ObjectID   string          `json:"objectId"`
	ObjectType string          `json:"objectType"`
	Params     json.RawMessage `json:"params"`
	Results    json.RawMessage `json:"results"`
}

// CreateEvent stores an event and returns its id and uuid.
func (c *Client) CreateEvent(ctx context.Context, req CreateEventRequest) (*Event, error) {
	body := map[string]any{"component": req.Component, "message": req.Message, "type": req.Type}
	if req.Type == "" {
		body["type"] = EventInfo
	}
	if req.Description != "" {
		body["description"] = req.Description
	}
	if req.Duration > 0 {
		body["duration"] = req.Duration
	}
	if req.RunID != "" {
		body["runId"] = req.RunID
	}
	for key, v := range map[string]any{"params": req.Params, "results": req.Results} {
		if v == nil {
			continue
		}
		encoded, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("create event %s: encode %s: %w", req.Component, key, err)
		}
		body[key] = string(encoded)
	}
	var e Event
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "events", body: body, out: &e}); err != nil {
		return nil, fmt.Errorf("create event %s: %w", req.Component, err)
	}
	return &e, nil
}

// ListEventsRequest filters an event listing.
type ListEventsRequest struct {
	Component string
	SinceID   string
	Limit     int // 0 means the server default (100)
}

// ListTableEvents lists a table's events, newest first.
func (c *Client) ListTableEvents(ctx context.Context, tableID string, req ListEventsRequest) ([]Event, error) {
	return c.listEvents(ctx, pathf("tables/%s/events", tableID), req)
}

// ListEvents lists the project's events, newest first.
func (c *Client) ListEvents(ctx context.Context, req ListEventsRequest) ([]Event, error) {
	return c.listEvents(ctx, "events", req)
}

func (c *Client) listEvents(ctx context.Context, path string, req ListEventsRequest) ([]Event, error) {
	q := url.Values{}
	if req.Component != "" {
		q.Set("component", req.Component)
	}
	if req.SinceID != "" {
		q.Set("sinceId", req.SinceID)
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	var out []Event
	if _, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

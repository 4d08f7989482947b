package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// maxEventBytes is Storage's event size limit.
const maxEventBytes = 200 << 10

func uuidV4() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// addEventLocked stores an event; e.mu must be held.
func (e *Emulator) addEventLocked(ev *event) {
	ev.ID = fmt.Sprint(e.st.nextID())
	ev.UUID = uuidV4()
	ev.Created = now()
	e.st.Events = append(e.st.Events, ev)
}

// jobEventLocked records Storage's own event for a finished job; e.mu must be held.
func (e *Emulator) jobEventLocked(j *job) {
	ev := &event{Component: "storage", Type: "info", ObjectID: j.TableID, ObjectType: "table", TokenID: j.CreatorTokenID,
		Params: json.RawMessage(`{}`), Results: json.RawMessage(`{}`)}
	switch {
	case j.Operation == "tableImport" && j.Status == statusSuccess:
		ev.Event, ev.Message, ev.Results = "storage.tableImportDone", "Imported data to table "+j.TableID, j.Results
	case j.Operation == "tableImport":
		ev.Event, ev.Message, ev.Type = "storage.tableImportError", "Import into table "+j.TableID+" failed: "+j.Error.Message, "error"
	case j.Operation == "tableDefinitionCreate" && j.Status == statusSuccess:
		ev.Event, ev.Message = "storage.tableCreated", "Created table "+j.TableID
	default:
		return
	}
	e.addEventLocked(ev)
}

func (e *Emulator) eventJSON(ev *event) map[string]any {
	tok := map[string]any{"id": ev.TokenID, "name": ""}
	if t := e.tokenByIDLocked(ev.TokenID); t != nil {
		tok["name"] = t.Description
	}
	return map[string]any{
		"id": ev.ID, "uuid": ev.UUID, "event": ev.Event, "component": ev.Component, "message": ev.Message, "type": ev.Type,
		"created": formatTime(ev.Created), "objectId": ev.ObjectID, "objectType": ev.ObjectType,
		"params": orEmpty(ev.Params), "results": orEmpty(ev.Results), "token": tok,
	}
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

func (e *Emulator) handleCreateEvent(w http.ResponseWriter, r *http.Request, tok *token) error {
	if r.ContentLength > maxEventBytes {
		return errInvalid("Event is larger than %d bytes", maxEventBytes)
	}
	var body struct {
		Component string   `json:"component"`
		Message   string   `json:"message"`
		Type      string   `json:"type"`
		Params    flexJSON `json:"params"`
		Results   flexJSON `json:"results"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Component == "" || body.Message == "" {
		return errInvalid("component and message are required")
	}
	if body.Type == "" {
		body.Type = "info"
	}
	if !slices.Contains([]string{"info", "success", "warn", "error"}, body.Type) {
		return errInvalid("type must be info, success, warn or error, got %q", body.Type)
	}
	ev := &event{Event: "ext." + body.Component, Component: body.Component, Message: body.Message, Type: body.Type,
		Params: json.RawMessage(body.Params), Results: json.RawMessage(body.Results), TokenID: tok.ID}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addEventLocked(ev)
	if err := e.saveLocked(); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": ev.ID, "uuid": ev.UUID})
	return nil
}

func (e *Emulator) handleListEvents(w http.ResponseWriter, r *http.Request, tok *token) error {
	return e.listEvents(w, r, func(ev *event) bool { return tok.IsMaster || ev.TokenID == tok.ID })
}

func (e *Emulator) handleListTableEvents(w http.ResponseWriter, r *http.Request, tok *token) error {
	id := r.PathValue("table")
	e.mu.Lock()
	_, err := e.requestTableLocked(r, tok, false)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.listEvents(w, r, func(ev *event) bool { return ev.ObjectType == "table" && ev.ObjectID == id })
}

// listEvents writes matching events newest first, filtered by component, sinceId and limit.
func (e *Emulator) listEvents(w http.ResponseWriter, r *http.Request, match func(*event) bool) error {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errInvalid("limit must be between 1 and 10000, got %q", v)
		}
		limit = n
	}
	sinceID, _ := strconv.ParseInt(q.Get("sinceId"), 10, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []any{}
	for i := len(e.st.Events) - 1; i >= 0 && len(out) < limit; i-- {
		ev := e.st.Events[i]
		id, _ := strconv.ParseInt(ev.ID, 10, 64)
		if !match(ev) || (q.Get("component") != "" && ev.Component != q.Get("component")) || id <= sinceID {
			continue
		}
		out = append(out, e.eventJSON(ev))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

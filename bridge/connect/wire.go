package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Entities as Kafka Connect serialises them.
type (
	createRequest struct {
		Name         string            `json:"name"`
		Config       map[string]string `json:"-"`
		RawConfig    json.RawMessage   `json:"config"`
		InitialState string            `json:"initial_state"`
	}
	taskID struct {
		Connector string `json:"connector"`
		Task      int    `json:"task"`
	}
	connectorInfo struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
		Tasks  []taskID          `json:"tasks"`
		Type   string            `json:"type"`
	}
	stateInfo struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace,omitempty"`
	}
	taskState struct {
		ID int `json:"id"`
		stateInfo
	}
	connectorStatus struct {
		Name      string      `json:"name"`
		Connector stateInfo   `json:"connector"`
		Tasks     []taskState `json:"tasks"`
		Type      string      `json:"type"`
	}
	taskInfo struct {
		ID     taskID            `json:"id"`
		Config map[string]string `json:"config"`
	}
	pluginInfo struct {
		Class   string `json:"class"`
		Type    string `json:"type"`
		Version string `json:"version,omitempty"`
	}
	errorMessage struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
)

// UnmarshalJSON reads the config with values coerced to strings.
func (r *createRequest) UnmarshalJSON(data []byte) error {
	type plain createRequest
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	if len(r.RawConfig) == 0 || string(r.RawConfig) == "null" {
		return nil
	}
	cfg, err := coerce(r.RawConfig)
	r.Config = cfg
	return err
}

// apiError is an answer with Connect's ErrorMessage body.
type apiError struct {
	status  int
	message string
	missing bool // the connector named in the path does not exist
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{status: http.StatusInternalServerError, message: err.Error()}
	}
	writeJSON(w, e.status, errorMessage{ErrorCode: e.status, Message: e.message})
}

// decodeConfig reads a flat config map; a null value is kept as the deleted mark.
func decodeConfig(body io.Reader) (map[string]string, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&raw); err != nil {
		return nil, errorf(http.StatusBadRequest, "Invalid JSON body: %v", err)
	}
	return coerce(raw)
}

// deleted marks a key given as JSON null: a PATCH removes it, anywhere else it is a
// validation error on the key, as in Connect.
const deleted = "\x00"

func coerce(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errorf(http.StatusBadRequest, "Invalid JSON body: the config must be an object of strings")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
			out[k] = deleted
		default:
			return nil, errorf(http.StatusBadRequest, "%s: must be a string, number or boolean", k)
		}
	}
	return out, nil
}

package storageapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Time is a Storage API timestamp. Storage writes "2006-01-02T15:04:05-0700" (no colon in
// the offset); RFC 3339 is accepted too. JSON null and "" decode to the zero Time.
type Time struct{ time.Time }

// storageTimeLayout is the layout Storage uses in responses.
const storageTimeLayout = "2006-01-02T15:04:05-0700"

// UnmarshalJSON accepts null, "", the Storage layout and RFC 3339.
func (t *Time) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{storageTimeLayout, time.RFC3339Nano, "2006-01-02T15:04:05+00:00"} {
		if parsed, err := time.Parse(layout, s); err == nil {
			t.Time = parsed
			return nil
		}
	}
	return fmt.Errorf("timestamp %q: unknown layout", s)
}

// MarshalJSON writes the Storage layout, or null for the zero Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(storageTimeLayout))
}

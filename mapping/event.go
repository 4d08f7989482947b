package mapping

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/tidwall/gjson"
)

// Event is one record as every column sees it. HTTP requests and Kafka records build the same
// Event, so one mapping renders both. The slices and the header map are borrowed: a render call
// reads them and keeps nothing after it returns.
type Event struct {
	// Body is the HTTP request body or the Kafka record value.
	Body []byte
	// Header holds the HTTP request headers (canonical keys, as net/http delivers them).
	Header http.Header
	// ClientIP is the sender's address; the zero Addr renders as an empty cell.
	ClientIP netip.Addr
	// ReceivedAt is when kbridge accepted the event; the datetime column and Now() use it.
	ReceivedAt time.Time

	// Kafka is true for Kafka records: the body is then JSON whatever the headers say, and the
	// kafka.* columns have values.
	Kafka         bool
	Topic         string
	Partition     int32
	Offset        int64
	Key           []byte
	Timestamp     time.Time
	RecordHeaders []RecordHeader

	// jsonVerdict caches whether a JSON body is valid (see Prepare), so every sink of a
	// source does not check the same body again.
	jsonVerdict verdict
}

type verdict uint8

const (
	unchecked verdict = iota
	validJSON
	invalidJSONBody
)

// Prepare checks the bodies of events once, for every mapping that renders them next: with
// several sinks on one source, each body is validated once instead of once per sink. It only
// saves work; rendering unprepared events gives the same rows.
func Prepare(events []Event) {
	for i := range events {
		ev := &events[i]
		if ev.jsonVerdict == unchecked && (ev.Kafka || isJSONContentType(ev.Header.Get("Content-Type"))) {
			ev.jsonVerdict = invalidJSONBody
			if checkDepth(ev.Body) == nil && gjson.Valid(bytesToString(ev.Body)) {
				ev.jsonVerdict = validJSON
			}
		}
	}
}

// RecordHeader is one Kafka record header; keys may repeat.
type RecordHeader struct {
	Key   string
	Value []byte
}

package mapping

import (
	"net/http"
	"net/netip"
	"time"
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
}

// RecordHeader is one Kafka record header; keys may repeat.
type RecordHeader struct {
	Key   string
	Value []byte
}

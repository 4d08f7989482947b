package mapping

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// TimeFormat is how datetime cells and Now() render a time: UTC, milliseconds, fixed width.
const TimeFormat = "2006-01-02T15:04:05.000Z"

func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeFormat)
}

// appendHeaders renders HTTP headers as Keboola does: a compact JSON object written as Go's
// json.Marshal writes it, canonical names,
// sorted, the first value of each header. keys is scratch space, returned for reuse.
func appendHeaders(dst []byte, h http.Header, keys []string) ([]byte, []string) {
	keys = sortedHeaderKeys(h, keys[:0])
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMarshalledString(dst, http.CanonicalHeaderKey(k))
		dst = append(dst, ':')
		dst = appendMarshalledString(dst, h[k][0])
	}
	return append(dst, '}'), keys
}

// appendHeaderLines renders headers as "Name: value\n" lines, sorted (Jsonnet's HeaderStr()).
func appendHeaderLines(dst []byte, h http.Header, keys []string) ([]byte, []string) {
	keys = sortedHeaderKeys(h, keys[:0])
	for _, k := range keys {
		dst = append(dst, http.CanonicalHeaderKey(k)...)
		dst = append(dst, ": "...)
		dst = append(dst, h[k][0]...)
		dst = append(dst, '\n')
	}
	return dst, keys
}

func sortedHeaderKeys(h http.Header, keys []string) []string {
	for k, v := range h {
		if len(v) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// appendRecordHeaders renders Kafka record headers as a JSON object in record order; a key
// that repeats maps to an array of its values, like a repeated form field.
func appendRecordHeaders(dst []byte, hs []RecordHeader) []byte {
	dst = append(dst, '{')
	first := true
	for i, h := range hs {
		if seenBefore(hs[:i], h.Key) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, h.Key)
		dst = append(dst, ':')
		if !seenBefore(hs[i+1:], h.Key) {
			dst = appendJSONString(dst, bytesToString(h.Value))
			continue
		}
		dst = append(dst, '[')
		for j, other := range hs[i:] {
			if other.Key == h.Key {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, bytesToString(other.Value))
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func seenBefore(hs []RecordHeader, key string) bool {
	for _, h := range hs {
		if h.Key == key {
			return true
		}
	}
	return false
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

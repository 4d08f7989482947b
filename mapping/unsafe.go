package mapping

import "unsafe"

// bytesToString views b as a string without copying. The string is valid only while b is
// neither modified nor reused: callers use it within one render call, on borrowed bytes.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

package mapping

import "bytes"

// appendCSVField appends v as one CSV field in Keboola's dialect: always double-quoted, with
// every quote doubled. Quote-free runs are copied whole.
func appendCSVField(dst, v []byte) []byte {
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			dst = append(dst, v...)
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	return append(dst, '"')
}

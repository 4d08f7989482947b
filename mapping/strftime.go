package mapping

import (
	"fmt"
	"time"
)

// appendStrftime formats t with a strftime pattern, as Jsonnet's Now(format) takes it. %f is
// milliseconds (three digits), as in Keboola. An unknown directive is an error.
func appendStrftime(dst []byte, t time.Time, format string) ([]byte, error) {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(format) {
			return dst, fmt.Errorf("invalid time format %q: it ends with %%", format)
		}
		var layout string
		switch format[i] {
		case 'Y':
			layout = "2006"
		case 'y':
			layout = "06"
		case 'm':
			layout = "01"
		case 'd':
			layout = "02"
		case 'e':
			layout = "_2"
		case 'H':
			layout = "15"
		case 'I':
			layout = "03"
		case 'M':
			layout = "04"
		case 'S':
			layout = "05"
		case 'f', 'L':
			layout = ".000"
		case 'p':
			layout = "PM"
		case 'b', 'h':
			layout = "Jan"
		case 'B':
			layout = "January"
		case 'a':
			layout = "Mon"
		case 'A':
			layout = "Monday"
		case 'j':
			layout = "002"
		case 'Z':
			layout = "MST"
		case 'z':
			layout = "-0700"
		case 'F':
			layout = "2006-01-02"
		case 'T':
			layout = "15:04:05"
		case 'R':
			layout = "15:04"
		case 'D':
			layout = "01/02/06"
		case 's':
			dst = appendInt(dst, t.Unix())
			continue
		case 'u':
			wd := int64(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = appendInt(dst, wd)
			continue
		case 'w':
			dst = appendInt(dst, int64(t.Weekday()))
			continue
		case 'n':
			dst = append(dst, '\n')
			continue
		case 't':
			dst = append(dst, '\t')
			continue
		case '%':
			dst = append(dst, '%')
			continue
		default:
			return dst, fmt.Errorf("invalid time format %q: unknown directive %%%c", format, format[i])
		}
		n := len(dst)
		dst = t.AppendFormat(dst, layout)
		if layout == ".000" {
			dst = append(dst[:n], dst[n+1:]...) // drop the dot
		}
	}
	return dst, nil
}

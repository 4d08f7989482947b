package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateFormat is a java.text.SimpleDateFormat pattern, read into its fields and literals, that
// formats and parses times in UTC. The letters people use for dates and times are supported:
// G is not, and neither are week-based fields (w W F u Y) nor k K; they are an error.
type dateFormat []dateField

// dateField is a run of n pattern letters, or literal text when letter is 0.
type dateField struct {
	letter  byte
	n       int
	literal string
}

const dateLetters = "yMdHhmsSaEzZXD"

func parseDateFormat(pattern string) (dateFormat, error) {
	var out dateFormat
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(pattern[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", pattern)
			}
			text := pattern[i+1 : i+1+j]
			if j == 0 {
				text = "'"
			}
			out = append(out, dateField{literal: text})
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if !strings.ContainsRune(dateLetters, rune(c)) {
				return nil, fmt.Errorf("pattern letter %q in %q is not supported", c, pattern)
			}
			n := 1
			for i+n < len(pattern) && pattern[i+n] == c {
				n++
			}
			out = append(out, dateField{letter: c, n: n})
			i += n
		default:
			out = append(out, dateField{literal: string(c)})
			i++
		}
	}
	return out, nil
}

// format writes t, in UTC, by the pattern.
func (f dateFormat) format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	pad := func(v, n int) { b.WriteString(fmt.Sprintf("%0*d", n, v)) }
	for _, d := range f {
		switch d.letter {
		case 0:
			b.WriteString(d.literal)
		case 'y':
			if d.n == 2 {
				pad(t.Year()%100, 2)
			} else {
				pad(t.Year(), d.n)
			}
		case 'M':
			switch {
			case d.n >= 4:
				b.WriteString(t.Month().String())
			case d.n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				pad(int(t.Month()), d.n)
			}
		case 'd':
			pad(t.Day(), d.n)
		case 'D':
			pad(t.YearDay(), d.n)
		case 'H':
			pad(t.Hour(), d.n)
		case 'h':
			pad((t.Hour()+11)%12+1, d.n)
		case 'm':
			pad(t.Minute(), d.n)
		case 's':
			pad(t.Second(), d.n)
		case 'S':
			pad(t.Nanosecond()/1e6, d.n) // milliseconds, as Java's S
		case 'a':
			b.WriteString(map[bool]string{true: "AM", false: "PM"}[t.Hour() < 12])
		case 'E':
			if d.n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'z':
			b.WriteString("UTC")
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		}
	}
	return b.String()
}

// parse reads s by the pattern; the time is in UTC unless s names an offset.
func (f dateFormat) parse(s string) (time.Time, error) {
	year, month, day, hour, minute, sec, milli, offset, pm, h12 := 1970, 1, 1, 0, 0, 0, 0, 0, false, false
	pos := 0
	fail := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("unparseable date %q: %s at position %d", s, what, pos)
	}
	for i, d := range f {
		if d.letter == 0 {
			if !strings.HasPrefix(s[pos:], d.literal) {
				return fail(fmt.Sprintf("expected %q", d.literal))
			}
			pos += len(d.literal)
			continue
		}
		switch d.letter {
		case 'M':
			if d.n >= 3 {
				m, n := matchName(s[pos:], func(i int) string { return time.Month(i + 1).String() }, 12)
				if n == 0 {
					return fail("expected a month name")
				}
				month, pos = m+1, pos+n
				continue
			}
		case 'E':
			_, n := matchName(s[pos:], func(i int) string { return time.Weekday(i).String() }, 7)
			if n == 0 {
				return fail("expected a day name")
			}
			pos += n
			continue
		case 'a':
			switch up := strings.ToUpper(s[pos:min(pos+2, len(s))]); up {
			case "AM", "PM":
				pm, pos = up == "PM", pos+2
				continue
			}
			return fail("expected AM or PM")
		case 'z', 'Z', 'X':
			off, n, ok := parseZone(s[pos:])
			if !ok {
				return fail("expected a time zone")
			}
			offset, pos = off, pos+n
			continue
		}
		width := len(s) - pos // a number takes its digits, or n of them before an adjacent number
		if i+1 < len(f) && f[i+1].letter != 0 && !strings.ContainsRune("aEzZX", rune(f[i+1].letter)) {
			width = d.n
		}
		j := pos
		for j < len(s) && j-pos < width && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == pos {
			return fail("expected a number")
		}
		v, _ := strconv.Atoi(s[pos:j])
		pos = j
		switch d.letter {
		case 'y':
			if year = v; d.n == 2 {
				year = 2000 + v
			}
		case 'M':
			month = v
		case 'd':
			day = v
		case 'D':
			month, day = 1, v
		case 'H':
			hour = v
		case 'h':
			hour, h12 = v%12, true
		case 'm':
			minute = v
		case 's':
			sec = v
		case 'S':
			milli = v
		}
	}
	if pos != len(s) {
		return fail("unexpected text")
	}
	if h12 && pm {
		hour += 12
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, milli*1e6, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// matchName finds which of count names (or their three-letter forms) s starts with.
func matchName(s string, name func(int) string, count int) (int, int) {
	for i := 0; i < count; i++ {
		full := name(i)
		for _, n := range []string{full, full[:3]} {
			if len(s) >= len(n) && strings.EqualFold(s[:len(n)], n) {
				return i, len(n)
			}
		}
	}
	return 0, 0
}

// parseZone reads UTC, GMT, Z, or an offset ±hh, ±hhmm, ±hh:mm; it returns the offset in
// seconds and the length read.
func parseZone(s string) (int, int, bool) {
	for _, name := range []string{"UTC", "GMT", "Z"} {
		if strings.HasPrefix(s, name) {
			return 0, len(name), true
		}
	}
	if len(s) < 3 || s[0] != '+' && s[0] != '-' {
		return 0, 0, false
	}
	h, err := strconv.Atoi(s[1:3])
	if err != nil {
		return 0, 0, false
	}
	n, m := 3, 0
	rest := strings.TrimPrefix(s[3:], ":")
	if len(rest) >= 2 {
		if v, err := strconv.Atoi(rest[:2]); err == nil {
			m, n = v, n+len(s[3:])-len(rest)+2
		}
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, n, true
}

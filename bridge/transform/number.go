package transform

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// integral tells whether a JSON number is an integer as Connect's JsonConverter reads it (a
// long) rather than a decimal (a double): no fraction and no exponent.
func integral(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// javaDouble writes f as Java's Double.toString (bits 64) or Float.toString (bits 32) does,
// which is how Connect shows a double as a string and how JsonConverter writes one: a decimal
// point always, scientific notation below 10^-3 and from 10^7.
func javaDouble(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, bits) // 1.5E+10, 1E-05
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

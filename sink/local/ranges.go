package local

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Range is an inclusive range of offsets of one stream, [First, Last].
type Range struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// Ranges is an exact set of offsets: sorted, disjoint ranges, adjacent ones merged. The zero
// value is the empty set. It is the ledger of a slice: which offsets of a stream it holds.
type Ranges []Range

// Add adds one offset. Offsets mostly come in increasing order, which costs O(1).
func (rs *Ranges) Add(off int64) { rs.AddRange(off, off) }

// AddRange adds [first, last].
func (rs *Ranges) AddRange(first, last int64) {
	s := *rs
	if n := len(s); n == 0 || first > s[n-1].Last+1 {
		*rs = append(s, Range{first, last})
		return
	} else if first >= s[n-1].First {
		s[n-1].Last = max(s[n-1].Last, last)
		return
	}
	// General case: find the ranges that overlap or touch [first, last] and merge them.
	i, _ := slices.BinarySearchFunc(s, first, func(r Range, off int64) int {
		if r.Last+1 < off {
			return -1
		}
		return 1
	})
	j := i
	for j < len(s) && s[j].First <= last+1 {
		first, last = min(first, s[j].First), max(last, s[j].Last)
		j++
	}
	*rs = slices.Replace(s, i, j, Range{first, last})
}

// Union adds every range of o.
func (rs *Ranges) Union(o Ranges) {
	for _, r := range o {
		rs.AddRange(r.First, r.Last)
	}
}

// Contains reports whether off is in the set.
func (rs Ranges) Contains(off int64) bool {
	_, found := slices.BinarySearchFunc(rs, off, cmpRange)
	return found
}

// cmpRange orders a range against an offset: 0 when it holds the offset.
func cmpRange(r Range, off int64) int {
	switch {
	case r.Last < off:
		return -1
	case r.First > off:
		return 1
	}
	return 0
}

// Covers reports whether every offset of o is in the set.
func (rs Ranges) Covers(o Ranges) bool {
	for _, r := range o {
		i, found := slices.BinarySearchFunc(rs, r.First, cmpRange)
		if !found || rs[i].Last < r.Last {
			return false
		}
	}
	return true
}

// Intersect returns the offsets in both sets.
func (rs Ranges) Intersect(o Ranges) Ranges {
	var out Ranges
	i, j := 0, 0
	for i < len(rs) && j < len(o) {
		first, last := max(rs[i].First, o[j].First), min(rs[i].Last, o[j].Last)
		if first <= last {
			out = append(out, Range{first, last})
		}
		if rs[i].Last < o[j].Last {
			i++
		} else {
			j++
		}
	}
	return out
}

// Minus returns the offsets of the set that are not in o.
func (rs Ranges) Minus(o Ranges) Ranges {
	var out Ranges
	j := 0
	for _, r := range rs {
		first := r.First
		for j < len(o) && o[j].Last < first {
			j++
		}
		for k := j; k < len(o) && o[k].First <= r.Last; k++ {
			if o[k].First > first {
				out = append(out, Range{first, o[k].First - 1})
			}
			first = max(first, o[k].Last+1)
		}
		if first <= r.Last {
			out = append(out, Range{first, r.Last})
		}
	}
	return out
}

// Last is the highest offset; ok is false for the empty set.
func (rs Ranges) Last() (int64, bool) {
	if len(rs) == 0 {
		return 0, false
	}
	return rs[len(rs)-1].Last, true
}

// Count is how many offsets the set holds.
func (rs Ranges) Count() int64 {
	var n int64
	for _, r := range rs {
		n += r.Last - r.First + 1
	}
	return n
}

// Clone returns a copy that shares nothing with rs.
func (rs Ranges) Clone() Ranges { return slices.Clone(rs) }

// UnmarshalJSON reads a list of ranges, or a single {"first":…,"last":…} object as records
// written before offsets were kept exactly (one range per stream) have it.
func (rs *Ranges) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var r Range
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		*rs = Ranges{r}
		return nil
	}
	var list []Range
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*rs = Ranges(list)
	return nil
}

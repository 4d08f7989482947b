package local_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kbridge/kbridge/sink/local"
)

func TestRangesAdd(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  [][2]int64
		want local.Ranges
	}{
		{"in order", [][2]int64{{1, 1}, {2, 2}, {3, 3}}, local.Ranges{{1, 3}}},
		{"a gap", [][2]int64{{1, 1}, {3, 3}}, local.Ranges{{1, 1}, {3, 3}}},
		{"fills the gap", [][2]int64{{1, 1}, {3, 3}, {2, 2}}, local.Ranges{{1, 3}}},
		{"before all", [][2]int64{{5, 6}, {1, 2}}, local.Ranges{{1, 2}, {5, 6}}},
		{"spans several", [][2]int64{{1, 1}, {3, 3}, {5, 5}, {9, 9}, {0, 6}}, local.Ranges{{0, 6}, {9, 9}}},
		{"inside", [][2]int64{{1, 10}, {4, 5}}, local.Ranges{{1, 10}}},
		{"again", [][2]int64{{1, 3}, {1, 3}}, local.Ranges{{1, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs local.Ranges
			for _, a := range tc.add {
				rs.AddRange(a[0], a[1])
			}
			if !slices.Equal(rs, tc.want) {
				t.Fatalf("got %v, want %v", rs, tc.want)
			}
		})
	}
}

// TestRangesAgainstAMap checks every operation against a plain set of offsets.
func TestRangesAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		a, b := map[int64]bool{}, map[int64]bool{}
		var ra, rb local.Ranges
		for range rng.IntN(40) {
			first := rng.Int64N(100)
			last := first + rng.Int64N(4)
			ra.AddRange(first, last)
			for o := first; o <= last; o++ {
				a[o] = true
			}
		}
		for range rng.IntN(40) {
			o := rng.Int64N(100)
			rb.Add(o)
			b[o] = true
		}
		check := func(name string, rs local.Ranges, want func(int64) bool) {
			t.Helper()
			for i := 1; i < len(rs); i++ {
				if rs[i].First <= rs[i-1].Last+1 || rs[i].First > rs[i].Last {
					t.Fatalf("round %d %s: not sorted, disjoint and merged: %v", round, name, rs)
				}
			}
			for o := int64(-1); o <= 105; o++ {
				if rs.Contains(o) != want(o) {
					t.Fatalf("round %d %s: Contains(%d) = %v: %v", round, name, o, rs.Contains(o), rs)
				}
			}
		}
		check("a", ra, func(o int64) bool { return a[o] })
		check("b", rb, func(o int64) bool { return b[o] })
		check("a∩b", ra.Intersect(rb), func(o int64) bool { return a[o] && b[o] })
		check("a−b", ra.Minus(rb), func(o int64) bool { return a[o] && !b[o] })
		u := ra.Clone()
		u.Union(rb)
		check("a∪b", u, func(o int64) bool { return a[o] || b[o] })
		covers := true
		for o := range b {
			covers = covers && a[o]
		}
		if ra.Covers(rb) != covers {
			t.Fatalf("round %d: Covers = %v, want %v (%v ⊇ %v)", round, ra.Covers(rb), covers, ra, rb)
		}
		if got := ra.Count(); got != int64(len(a)) {
			t.Fatalf("round %d: Count = %d, want %d", round, got, len(a))
		}
	}
}

func TestRangesJSON(t *testing.T) {
	var got map[string]local.Ranges
	// A single object is how records kept one range per stream.
	if err := json.Unmarshal([]byte(`{"a/0":{"first":3,"last":7},"a/1":[{"first":1,"last":2},{"first":5,"last":5}]}`), &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["a/0"], local.Ranges{{3, 7}}) || !slices.Equal(got["a/1"], local.Ranges{{1, 2}, {5, 5}}) {
		t.Fatalf("got %v", got)
	}
	out, err := json.Marshal(got["a/1"])
	if err != nil || string(out) != `[{"first":1,"last":2},{"first":5,"last":5}]` {
		t.Fatalf("marshal: %s %v", out, err)
	}
}

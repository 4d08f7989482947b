package mapping

import (
	crand "crypto/rand"
	"math/rand/v2"
	"time"
)

// uuidGen makes UUIDv7 values (RFC 9562): 48 bits of Unix milliseconds, then random bits.
// Within one millisecond the 12-bit rand_a field counts up, so ids of one generator sort in
// creation order. Not safe for concurrent use; each Renderer owns one.
type uuidGen struct {
	rng    *rand.ChaCha8
	lastMs int64
	seq    uint16
}

func newUUIDGen() *uuidGen {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails since Go 1.24
	return &uuidGen{rng: rand.NewChaCha8(seed)}
}

// appendUUID appends a new UUIDv7 in its 36-character text form.
func (g *uuidGen) appendUUID(dst []byte, now time.Time) []byte {
	ms := now.UnixMilli()
	if ms == g.lastMs && g.seq < 0xfff {
		g.seq++
	} else {
		g.lastMs, g.seq = ms, uint16(g.rng.Uint64()&0x7ff) // leave room to count up
	}
	var u [16]byte
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(g.seq>>8)
	u[7] = byte(g.seq)
	r := g.rng.Uint64()
	for i := 8; i < 16; i++ {
		u[i] = byte(r >> (8 * (i - 8)))
	}
	u[8] = 0x80 | u[8]&0x3f
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

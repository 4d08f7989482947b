package intake

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"
)

var xffKey = []byte("X-Forwarded-For")

// clientIP is the client's address of a request (see forwardedFor).
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	a, ok := ctx.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	peer := a.AddrPort().Addr().Unmap()
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer
	}
	return s.forwardedFor(peer, ctx.Request.Header.PeekAll(string(xffKey)))
}

// forwardedFor is the TCP peer, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not a trusted proxy (walking from the right, the entries the
// proxies appended). Entries a client wrote itself are never believed past an untrusted hop.
func (s *Server) forwardedFor(peer netip.Addr, xff [][]byte) netip.Addr {
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer
	}
	ip := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := xff[i]
		for len(hops) > 0 {
			var hop []byte
			if j := bytes.LastIndexByte(hops, ','); j >= 0 {
				hop, hops = hops[j+1:], hops[:j]
			} else {
				hop, hops = hops, nil
			}
			a, err := netip.ParseAddr(string(bytes.TrimSpace(hop)))
			if err != nil {
				return ip
			}
			ip = a.Unmap()
			if !s.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

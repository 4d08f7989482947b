package intake

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the TCP peer, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not a trusted proxy (walking from the right, the entries the
// proxies appended). Entries a client wrote itself are never believed past an untrusted hop.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	peer := ap.Addr().Unmap()
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	ip := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := xff[i]
		for hops != "" {
			var hop string
			if j := strings.LastIndexByte(hops, ','); j >= 0 {
				hop, hops = hops[j+1:], hops[:j]
			} else {
				hop, hops = hops, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
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

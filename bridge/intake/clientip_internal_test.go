package intake

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1"}
	proxies, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{proxies: proxies}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct", "203.0.113.5:1234", nil, "203.0.113.5"},
		{"untrusted peer ignores header", "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"chain of proxies", "10.1.2.3:80", []string{"198.51.100.7, 192.168.1.1, 10.9.9.9"}, "198.51.100.7"},
		{"forged left entries", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"several headers", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"only proxies", "10.1.2.3:80", []string{"10.0.0.9"}, "10.0.0.9"},
		{"garbage stops", "10.1.2.3:80", []string{"198.51.100.7, junk"}, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:10.0.0.1]:80", []string{"198.51.100.8"}, "198.51.100.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var xff [][]byte
			for _, v := range tc.xff {
				xff = append(xff, []byte(v))
			}
			peer := netip.MustParseAddrPort(tc.peer).Addr().Unmap()
			if got := s.forwardedFor(peer, xff).String(); got != tc.want {
				t.Fatalf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.MaxBodySize, cfg.TrustedProxies, cfg.RequestTimeout = 5<<20, []string{"nope"}, 0
	err := cfg.Validate()
	for _, key := range []string{"maxBodySize", "trustedProxies", "requestTimeout"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("error %v does not name %s", err, key)
		}
	}
}

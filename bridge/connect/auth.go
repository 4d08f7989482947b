package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Authentication types of the REST API.
const (
	AuthBasic  = "basic"  // HTTP basic credentials, as Connect's BasicAuthSecurityRestExtension
	AuthBearer = "bearer" // a static bearer token
	AuthNone   = "none"   // no authentication: every caller is anonymous and sees secrets masked
)

// AuthConfig is who may call the REST API. Two credentials: the operator's manages connectors
// and sees secrets in connector configs masked as [hidden]; the admin's, when set, also sees
// them. An empty Type is refused while the API listens, so a daemon never serves connector
// secrets to whoever reaches the port by default; none must be chosen explicitly.
type AuthConfig struct {
	// Type is basic, bearer or none.
	Type string `yaml:"type"`
	// Username and Password are the operator's basic credentials; Token its bearer token.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// AdminUsername and AdminPassword (basic) or AdminToken (bearer) are the admin's.
	AdminUsername string `yaml:"adminUsername"`
	AdminPassword string `yaml:"adminPassword"`
	AdminToken    string `yaml:"adminToken"`
}

// Validate names the bad key, relative to the auth section.
func (a AuthConfig) Validate() error {
	var errs []error
	need := func(key, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("auth.%s: missing (auth.type is %s)", key, a.Type))
		}
	}
	switch a.Type {
	case AuthBasic:
		need("username", a.Username)
		need("password", a.Password)
		if (a.AdminUsername == "") != (a.AdminPassword == "") {
			errs = append(errs, errors.New("auth.adminUsername: set both adminUsername and adminPassword, or neither"))
		} else if a.AdminUsername != "" && a.AdminUsername == a.Username {
			errs = append(errs, errors.New("auth.adminUsername: must differ from auth.username"))
		}
	case AuthBearer:
		need("token", a.Token)
		if a.AdminToken != "" && a.AdminToken == a.Token {
			errs = append(errs, errors.New("auth.adminToken: must differ from auth.token"))
		}
	case AuthNone:
	case "":
		errs = append(errs, errors.New("auth.type: missing: set basic or bearer with credentials, or none to serve the API without authentication"))
	default:
		errs = append(errs, fmt.Errorf("auth.type: must be basic, bearer or none, got %q", a.Type))
	}
	return errors.Join(errs...)
}

// caller is what a request proved: whether it may see secrets.
type caller struct{ admin bool }

type callerKey struct{}

func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// authenticate answers 401 to a request without valid credentials before any route runs and
// takes no lock; GET /health stays open for probes.
func (a AuthConfig) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := a.check(r)
		if !ok && !(r.Method == http.MethodGet && strings.TrimSuffix(r.URL.Path, "/") == "/health") {
			if a.Type == AuthBasic {
				w.Header().Set("WWW-Authenticate", `Basic realm="kbridge-connect"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kbridge-connect"`)
			}
			writeError(w, errorf(http.StatusUnauthorized, "Credentials are missing or wrong (connect.auth.type is %s)", a.Type))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func (a AuthConfig) check(r *http.Request) (caller, bool) {
	switch a.Type {
	case AuthBasic:
		user, pass, ok := r.BasicAuth()
		if !ok {
			return caller{}, false
		}
		if a.AdminUsername != "" && same(user, a.AdminUsername) && same(pass, a.AdminPassword) {
			return caller{admin: true}, true
		}
		return caller{}, same(user, a.Username) && same(pass, a.Password)
	case AuthBearer:
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return caller{}, false
		}
		if a.AdminToken != "" && same(token, a.AdminToken) {
			return caller{admin: true}, true
		}
		return caller{}, same(token, a.Token)
	}
	return caller{}, true
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

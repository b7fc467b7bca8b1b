package runner

import (
	"fmt"
	"net/url"
	"strings"
)

// ServerKind names a kind of RTMP server a run starts for itself.
type ServerKind string

// Server kinds.
const (
	ServerEmbedded ServerKind = "embedded"   // rtmpload's own SRS imitation
	ServerNginx    ServerKind = "nginx-rtmp" // Debian's nginx with the RTMP module
	ServerSRS      ServerKind = "srs"        // the user's SRS binary
	// ServerServe is the embedded server as a process of its own (`rtmpload
	// serve`): its CPU and memory are then apart from the generator's.
	ServerServe ServerKind = "serve"
)

// ServerSpec is the server a run starts: its zero value is the embedded one.
// Its text form is "embedded", "serve", "nginx-rtmp" or "srs=PATH".
type ServerSpec struct {
	Kind   ServerKind // "" is ServerEmbedded
	Binary string     // ServerSRS: the path of SRS's binary
}

// ParseServerSpec reads a ServerSpec from its text form. Its errors describe
// the value; the caller names where it came from.
func ParseServerSpec(s string) (ServerSpec, error) {
	switch kind, arg, hasArg := strings.Cut(s, "="); {
	case s == "" || s == string(ServerEmbedded):
		return ServerSpec{}, nil
	case s == string(ServerNginx):
		return ServerSpec{Kind: ServerNginx}, nil
	case s == string(ServerServe):
		return ServerSpec{Kind: ServerServe}, nil
	case kind == string(ServerSRS) && hasArg && arg != "":
		return ServerSpec{Kind: ServerSRS, Binary: arg}, nil
	case kind == string(ServerSRS):
		return ServerSpec{}, fmt.Errorf("srs needs the path of your SRS binary: srs=PATH")
	}
	return ServerSpec{}, fmt.Errorf("unknown server: want embedded, serve, nginx-rtmp or srs=PATH")
}

// Embedded reports whether the spec is the embedded server.
func (s ServerSpec) Embedded() bool { return s.Kind == "" || s.Kind == ServerEmbedded }

// String is the text form ParseServerSpec reads.
func (s ServerSpec) String() string {
	switch {
	case s.Embedded():
		return string(ServerEmbedded)
	case s.Kind == ServerSRS:
		return string(ServerSRS) + "=" + s.Binary
	}
	return string(s.Kind)
}

// HookPlan is how a run handles the on_publish callback: its zero value
// serves the built-in hook. Its text form is "serve", "proxy=URL" or
// "external".
type HookPlan struct {
	// External: the callback is not rtmpload's, nothing is served (a probe
	// may watch it).
	External bool
	// Proxy, when set, is the user's callback service: the built-in hook
	// forwards every call to it, records the answers and may add faults.
	Proxy string
}

// ParseHookPlan reads a HookPlan from its text form. Its errors describe the
// value; the caller names where it came from.
func ParseHookPlan(s string) (HookPlan, error) {
	switch kind, arg, hasArg := strings.Cut(s, "="); {
	case s == "" || s == "serve":
		return HookPlan{}, nil
	case s == "external":
		return HookPlan{External: true}, nil
	case kind == "proxy" && hasArg:
		if u, err := url.Parse(arg); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return HookPlan{}, fmt.Errorf("proxy=URL: %q is not an http:// URL of your callback service", arg)
		}
		return HookPlan{Proxy: arg}, nil
	}
	return HookPlan{}, fmt.Errorf("unknown hook plan: want serve, proxy=URL or external")
}

// Serve reports whether the run serves the built-in hook (alone or as a
// proxy).
func (h HookPlan) Serve() bool { return !h.External }

// String is the text form ParseHookPlan reads.
func (h HookPlan) String() string {
	switch {
	case h.External:
		return "external"
	case h.Proxy != "":
		return "proxy=" + h.Proxy
	}
	return "serve"
}

package srs

import "net/http"

// HookRequest is the body SRS posts to an http_hooks URL
// (docs/srs-behaviour.md, "Hook request"). The field order is SRS's key
// order, which hook services and tests compare byte for byte.
type HookRequest struct {
	ServerID  string `json:"server_id"`
	ServiceID string `json:"service_id"`
	Action    string `json:"action"` // "on_publish" or "on_unpublish" (schema.HookAction)
	ClientID  string `json:"client_id"`
	IP        string `json:"ip"`
	Vhost     string `json:"vhost"` // DefaultVhost when the publisher named none
	App       string `json:"app"`
	TcURL     string `json:"tcUrl"`
	Stream    string `json:"stream"`
	Param     string `json:"param"` // the publish URL's query with its "?", or ""
	StreamURL string `json:"stream_url"`
	StreamID  string `json:"stream_id"`
}

// PlayHookRequest is the body of on_play: the HookRequest fields plus
// pageUrl, with stream before tcUrl, in SRS's key order
// (docs/srs-behaviour.md, "Play"). on_stop's body is a HookRequest.
type PlayHookRequest struct {
	ServerID  string `json:"server_id"`
	ServiceID string `json:"service_id"`
	Action    string `json:"action"` // "on_play"
	ClientID  string `json:"client_id"`
	IP        string `json:"ip"`
	Vhost     string `json:"vhost"`
	App       string `json:"app"`
	Stream    string `json:"stream"`
	TcURL     string `json:"tcUrl"`
	Param     string `json:"param"`
	PageURL   string `json:"pageUrl"` // "" from ffmpeg and rtmpload's players
	StreamURL string `json:"stream_url"`
	StreamID  string `json:"stream_id"`
}

// DefaultVhost is the vhost SRS names when a publisher names none.
const DefaultVhost = "__defaultVhost__"

// HookAnswer is the answer shape of SRS's callback services: code 0 allows,
// anything else refuses (docs/srs-behaviour.md, "What SRS accepts as allow").
// A nil Msg is what the seed's callback service sends: {"code":0,"msg":null}.
type HookAnswer struct {
	Code int     `json:"code"`
	Msg  *string `json:"msg"`
}

// Version is the SRS release docs/srs-behaviour.md was observed on, which the
// embedded server imitates and names in its User-Agent and API.
const Version = "7.0.18"

// NoRedirect is the CheckRedirect of an http.Client that calls a hook as
// SRS does: SRS's HTTP client posts once and judges the status it gets, so
// a 3xx is the callback's answer (a refusal, "http: status 302"), never
// followed to where it points (docs/srs-behaviour.md, "Hook answer").
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

package srs

import "strings"

// The shapes of SRS's HTTP API (docs/srs-behaviour.md, "HTTP API"). Every
// answer is an object whose "code" is 0 on success, even beside HTTP 200.

// Stream is one entry of /api/v1/streams/.
type Stream struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Vhost     string  `json:"vhost"` // the vhost's id, as SRS reports it
	App       string  `json:"app"`
	TcURL     string  `json:"tcUrl"`
	URL       string  `json:"url"`
	LiveMs    int64   `json:"live_ms"` // SRS reports the current time in ms here
	Clients   int     `json:"clients"`
	Frames    uint64  `json:"frames"`
	SendBytes uint64  `json:"send_bytes"`
	RecvBytes uint64  `json:"recv_bytes"`
	Kbps      Kbps    `json:"kbps"`
	Publish   Publish `json:"publish"`
	Video     *Video  `json:"video"`
	Audio     *Audio  `json:"audio"`
}

// Kbps is SRS's 30-second bit rate pair.
type Kbps struct {
	Recv30s int `json:"recv_30s"`
	Send30s int `json:"send_30s"`
}

// Publish says whether a stream has an accepted publisher, and which.
type Publish struct {
	Active bool   `json:"active"`
	CID    string `json:"cid,omitempty"`
}

// Video describes a stream's video as SRS does.
type Video struct {
	Codec   string `json:"codec"`
	Profile string `json:"profile"`
	Level   string `json:"level"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
}

// Audio describes a stream's audio as SRS does.
type Audio struct {
	Codec      string `json:"codec"`
	SampleRate int    `json:"sample_rate"`
	Channel    int    `json:"channel"`
	Profile    string `json:"profile"`
}

// Client is one entry of /api/v1/clients/. SRS lists a publisher from its
// publish command on, while its hooks still run (docs/srs-behaviour.md,
// "Duplicate names").
type Client struct {
	ID        string  `json:"id"`
	Vhost     string  `json:"vhost"`
	Stream    string  `json:"stream"` // the stream's id
	IP        string  `json:"ip"`
	PageURL   string  `json:"pageUrl"`
	SwfURL    string  `json:"swfUrl"`
	TcURL     string  `json:"tcUrl"`
	URL       string  `json:"url"`
	Name      string  `json:"name"`
	Type      string  `json:"type"` // "fmle-publish" for an RTMP publisher
	Publish   bool    `json:"publish"`
	Alive     float64 `json:"alive"` // seconds
	SendBytes uint64  `json:"send_bytes"`
	RecvBytes uint64  `json:"recv_bytes"`
	Kbps      Kbps    `json:"kbps"`
}

// Publishing reports whether SRS lists the client as a publisher. SRS names
// publisher types "<protocol>-publish" and sets "publish" on them.
func (c Client) Publishing() bool {
	return c.Publish || strings.HasSuffix(c.Type, "-publish")
}

// Versions is the "data" of /api/v1/versions.
type Versions struct {
	Major    int    `json:"major"`
	Minor    int    `json:"minor"`
	Revision int    `json:"revision"`
	Version  string `json:"version"` // "7.0.18"
}

package srsapi

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rtmpload/rtmpload/srs"
)

// NginxStat is nginx-rtmp's rtmp_stat page (`location /stat { rtmp_stat all; }`).
type NginxStat struct {
	At           time.Time          `xml:"-"` // when it was read
	NginxVersion string             `xml:"nginx_version"`
	RTMPVersion  string             `xml:"nginx_rtmp_version"`
	PID          int                `xml:"pid"`
	Uptime       int64              `xml:"uptime"` // seconds
	Accepted     int64              `xml:"naccepted"`
	BwIn         int64              `xml:"bw_in"` // bits per second
	BytesIn      uint64             `xml:"bytes_in"`
	BwOut        int64              `xml:"bw_out"`
	BytesOut     uint64             `xml:"bytes_out"`
	Applications []NginxApplication `xml:"server>application"`
}

// NginxApplication is one `application` block's live streams.
type NginxApplication struct {
	Name     string        `xml:"name"`
	Streams  []NginxStream `xml:"live>stream"`
	NClients int           `xml:"live>nclients"`
}

// NginxStream is one live stream. Empty elements (<publishing/>) mean true.
type NginxStream struct {
	Name       string        `xml:"name"`
	Time       int64         `xml:"time"` // ms since the stream began
	BwIn       int64         `xml:"bw_in"`
	BytesIn    uint64        `xml:"bytes_in"`
	BwOut      int64         `xml:"bw_out"`
	BytesOut   uint64        `xml:"bytes_out"`
	Clients    []NginxClient `xml:"client"`
	NClients   int           `xml:"nclients"`
	Publishing Flag          `xml:"publishing"`
	Active     Flag          `xml:"active"`
	Meta       *NginxMeta    `xml:"meta"`
}

// NginxClient is a publisher or player of a stream.
type NginxClient struct {
	ID         string `xml:"id"`
	Address    string `xml:"address"`
	Time       int64  `xml:"time"` // ms since it connected
	FlashVer   string `xml:"flashver"`
	Dropped    int64  `xml:"dropped"`
	Publishing Flag   `xml:"publishing"`
	Active     Flag   `xml:"active"`
}

// NginxMeta is what nginx-rtmp learned from the stream's metadata.
type NginxMeta struct {
	Video struct {
		Width     int     `xml:"width"`
		Height    int     `xml:"height"`
		FrameRate float64 `xml:"frame_rate"`
		Codec     string  `xml:"codec"`
		Profile   string  `xml:"profile"`
		Level     string  `xml:"level"`
	} `xml:"video"`
	Audio struct {
		Codec      string `xml:"codec"`
		Profile    string `xml:"profile"`
		Channels   int    `xml:"channels"`
		SampleRate int    `xml:"sample_rate"`
	} `xml:"audio"`
}

// Flag is an XML element whose presence means true.
type Flag bool

// UnmarshalXML is called only when the element is present.
func (f *Flag) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	*f = true
	return d.Skip()
}

// ReadNginxStat fetches and parses statURL ("http://127.0.0.1:8080/stat").
func ReadNginxStat(ctx context.Context, statURL string) (NginxStat, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statURL, nil)
	if err != nil {
		return NginxStat{}, fmt.Errorf("srsapi: %w", err)
	}
	at := time.Now()
	resp, err := defaultHTTP.Do(req)
	if err != nil {
		return NginxStat{}, fmt.Errorf("srsapi: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return NginxStat{}, fmt.Errorf("srsapi: GET %s: HTTP %d", statURL, resp.StatusCode)
	}
	st, err := ParseNginxStat(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return NginxStat{}, fmt.Errorf("srsapi: GET %s: %w", statURL, err)
	}
	st.At = at
	return st, nil
}

// ParseNginxStat parses an rtmp_stat XML document.
func ParseNginxStat(r io.Reader) (NginxStat, error) {
	var st NginxStat
	if err := xml.NewDecoder(r).Decode(&st); err != nil {
		return NginxStat{}, fmt.Errorf("rtmp_stat XML: %w", err)
	}
	return st, nil
}

// Snapshot maps the stat page onto SRS's shapes so that one cross-check
// serves both servers: a publishing client gets Type "fmle-publish" (what
// SRS calls ffmpeg's publisher), others "rtmp-play". nginx-rtmp has no
// stream ids: Stream.ID and ClientInfo.Stream are the stream's URL.
func (s NginxStat) Snapshot() Snapshot {
	snap := Snapshot{At: s.At, Streams: []srs.Stream{}, Clients: []srs.Client{}}
	for _, app := range s.Applications {
		for _, st := range app.Streams {
			u := "/" + app.Name + "/" + st.Name
			out := srs.Stream{
				ID: u, Name: st.Name, App: app.Name, URL: u,
				LiveMs:    st.Time,
				Clients:   st.NClients,
				SendBytes: st.BytesOut, RecvBytes: st.BytesIn,
				Kbps: srs.Kbps{Recv30s: int(st.BwIn / 1000), Send30s: int(st.BwOut / 1000)},
			}
			if m := st.Meta; m != nil {
				if m.Video.Codec != "" {
					out.Video = &srs.Video{Codec: m.Video.Codec, Profile: m.Video.Profile, Level: m.Video.Level,
						Width: m.Video.Width, Height: m.Video.Height}
				}
				if m.Audio.Codec != "" {
					out.Audio = &srs.Audio{Codec: m.Audio.Codec, Profile: m.Audio.Profile,
						SampleRate: m.Audio.SampleRate, Channel: m.Audio.Channels}
				}
			}
			for _, c := range st.Clients {
				ci := srs.Client{
					ID: c.ID, Stream: u, IP: c.Address, URL: u, Name: st.Name,
					Type: "rtmp-play", Publish: bool(c.Publishing),
					Alive: float64(c.Time) / 1000,
				}
				if c.Publishing {
					ci.Type = "fmle-publish"
					out.Publish = srs.Publish{Active: true, CID: c.ID}
				}
				snap.Clients = append(snap.Clients, ci)
			}
			if bool(st.Publishing) && !out.Publish.Active {
				out.Publish.Active = true
			}
			snap.Streams = append(snap.Streams, out)
		}
	}
	return snap
}

// PollNginx is Poll for nginx-rtmp's stat page.
func PollNginx(ctx context.Context, statURL string, every time.Duration, fn func(Snapshot)) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := ReadNginxStat(ctx, statURL)
		if ctx.Err() != nil {
			return
		}
		snap := st.Snapshot()
		if err != nil {
			snap = Snapshot{At: time.Now(), Err: err.Error()}
		}
		fn(snap)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

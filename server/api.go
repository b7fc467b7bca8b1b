package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rtmpload/rtmpload/srs"
)

// SRS error codes the API answers with (HTTP 200, non-zero "code").
const (
	errStreamNotFound = 2048 // ERROR_RTMP_STREAM_NOT_FOUND
	errClientNotFound = 2049 // ERROR_RTMP_CLIENT_NOT_FOUND
)

// defaultPageCount is SRS's page size when ?count is absent, and its least.
const defaultPageCount = 10

func (s *Server) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/versions", s.handleVersions)
	// SRS redirects the slashless form; serving both saves clients a hop.
	for _, p := range []string{"GET /api/v1/streams", "GET /api/v1/streams/{$}"} {
		mux.HandleFunc(p, s.handleStreams)
	}
	mux.HandleFunc("GET /api/v1/streams/{id}", s.handleStream)
	for _, p := range []string{"GET /api/v1/clients", "GET /api/v1/clients/{$}"} {
		mux.HandleFunc(p, s.handleClients)
	}
	mux.HandleFunc("GET /api/v1/clients/{id}", s.handleClient)
	return mux
}

// envelope starts every answer the way SRS does.
type envelope struct {
	Code    int    `json:"code"`
	Server  string `json:"server"`
	Service string `json:"service"`
	PID     string `json:"pid"`
}

func (s *Server) envelope(code int) envelope {
	return envelope{Code: code, Server: s.cfg.ServerID, Service: s.cfg.ServiceID, PID: s.pid}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Server", "SRS")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) handleVersions(w http.ResponseWriter, _ *http.Request) {
	d := srs.Versions{Version: s.cfg.Version}
	parts := strings.SplitN(s.cfg.Version, ".", 3)
	for i, p := range parts {
		n, _ := strconv.Atoi(p)
		switch i {
		case 0:
			d.Major = n
		case 1:
			d.Minor = n
		case 2:
			d.Revision = n
		}
	}
	writeJSON(w, struct {
		envelope
		Data srs.Versions `json:"data"`
	}{s.envelope(0), d})
}

// page applies SRS 7.0.18's paging: start defaults to 0, and count is at
// least 10 (count=1 gives 10 entries), as seen with SRS 7.0.18.
func page[T any](r *http.Request, all []T) []T {
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("start"))
	start = max(start, 0)
	n, _ := strconv.Atoi(q.Get("count"))
	count := max(n, defaultPageCount)
	if start >= len(all) {
		return []T{}
	}
	return all[start:min(len(all), start+count)]
}

func (s *Server) handleStreams(w http.ResponseWriter, r *http.Request) {
	// SRS 7.0.18 gives no "total" (later versions do).
	writeJSON(w, struct {
		envelope
		Streams []srs.Stream `json:"streams"`
	}{s.envelope(0), page(r, s.Streams())})
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, st := range s.Streams() {
		if st.ID == id {
			writeJSON(w, struct {
				envelope
				Stream srs.Stream `json:"stream"`
			}{s.envelope(0), st})
			return
		}
	}
	writeJSON(w, s.envelope(errStreamNotFound))
}

func (s *Server) handleClients(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		envelope
		Clients []srs.Client `json:"clients"`
	}{s.envelope(0), page(r, s.Clients())})
}

func (s *Server) handleClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, c := range s.Clients() {
		if c.ID == id {
			writeJSON(w, struct {
				envelope
				Client srs.Client `json:"client"`
			}{s.envelope(0), c})
			return
		}
	}
	writeJSON(w, s.envelope(errClientNotFound))
}

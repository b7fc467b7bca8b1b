// Package srsapi reads a real server's own view of its streams and clients:
// SRS's HTTP API (/api/v1/...) and nginx-rtmp's rtmp_stat XML page, both
// turned into the same Snapshot so that rtmpload can cross-check what it
// concluded against what the server says.
package srsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/srs"
)

// Client talks to SRS's HTTP API.
type Client struct {
	Base string       // e.g. "http://127.0.0.1:1985"
	HTTP *http.Client // nil: a client with a 5 s timeout
}

var defaultHTTP = &http.Client{Timeout: 5 * time.Second}

// pageCount is what we ask for per page; SRS's default (10) would make a
// 50-publisher run take 5 requests per list.
const pageCount = 500

// maxPages bounds paging against a server that ignores start.
const maxPages = 1000

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// get fetches path and decodes the JSON answer into v after checking SRS's
// "code" field, which is non-zero on errors even with HTTP 200.
func (c *Client) get(ctx context.Context, path string, v any) error {
	u := strings.TrimRight(c.Base, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("srsapi: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("srsapi: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("srsapi: GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("srsapi: GET %s: HTTP %d", u, resp.StatusCode)
	}
	var env struct {
		Code *int `json:"code"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("srsapi: GET %s: not SRS's JSON: %w", u, err)
	}
	if env.Code != nil && *env.Code != 0 {
		return fmt.Errorf("srsapi: GET %s: SRS error code %d", u, *env.Code)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("srsapi: GET %s: %w", u, err)
	}
	return nil
}

// Version returns SRS's version ("7.0.18") from /api/v1/versions.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		Data srs.Versions `json:"data"`
	}
	if err := c.get(ctx, "/api/v1/versions", &v); err != nil {
		return "", err
	}
	if v.Data.Version == "" {
		return "", fmt.Errorf("srsapi: %s/api/v1/versions: no data.version", c.Base)
	}
	return v.Data.Version, nil
}

// Streams returns every stream, reading all pages.
func (c *Client) Streams(ctx context.Context) ([]srs.Stream, error) {
	return pages(ctx, c, "/api/v1/streams/", func(p *struct {
		Total   *int         `json:"total"`
		Streams []srs.Stream `json:"streams"`
	}) ([]srs.Stream, *int) {
		return p.Streams, p.Total
	}, func(s srs.Stream) string { return s.ID })
}

// Clients returns every client, reading all pages.
func (c *Client) Clients(ctx context.Context) ([]srs.Client, error) {
	return pages(ctx, c, "/api/v1/clients/", func(p *struct {
		Total   *int         `json:"total"`
		Clients []srs.Client `json:"clients"`
	}) ([]srs.Client, *int) {
		return p.Clients, p.Total
	}, func(c srs.Client) string { return c.ID })
}

// pages reads a paged SRS list. A server may cap count below what we ask
// (or ignore it), so paging goes on until a page is empty, the reported
// total is reached, or a page brings nothing new (a server ignoring start).
func pages[P any, T any](ctx context.Context, c *Client, path string, items func(*P) ([]T, *int), id func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for range maxPages {
		q := url.Values{"start": {strconv.Itoa(len(all))}, "count": {strconv.Itoa(pageCount)}}
		var p P
		if err := c.get(ctx, path+"?"+q.Encode(), &p); err != nil {
			return nil, err
		}
		got, total := items(&p)
		fresh := 0
		for _, it := range got {
			if k := id(it); !seen[k] {
				seen[k] = true
				all = append(all, it)
				fresh++
			}
		}
		if fresh == 0 || (total != nil && len(all) >= *total) {
			return all, nil
		}
	}
	return all, nil
}

// Snapshot is the server's view at one moment. Err is set (and the lists
// may be partial or empty) when the server could not be read.
type Snapshot struct {
	At      time.Time    `json:"at"`
	Streams []srs.Stream `json:"streams"`
	Clients []srs.Client `json:"clients"`
	Err     string       `json:"err,omitempty"`
}

// Take reads streams and clients once.
func Take(ctx context.Context, c *Client) Snapshot {
	s := Snapshot{At: time.Now()}
	var errs []string
	var err error
	if s.Streams, err = c.Streams(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	if s.Clients, err = c.Clients(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	s.Err = strings.Join(errs, "; ")
	return s
}

// Poll calls fn with a Snapshot at once and then every `every` (1 s when
// zero) until ctx is done. fn runs on Poll's goroutine, so a slow fn delays
// the next snapshot instead of piling them up. A failed read is delivered
// as a Snapshot with Err, not a reason to stop: the server's downtime is
// itself worth recording.
func Poll(ctx context.Context, c *Client, every time.Duration, fn func(Snapshot)) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	// One snapshot may take at most two periods: an API that hangs is
	// recorded as unanswered every few seconds, not waited for all run.
	limit := max(2*every, 2*time.Second)
	for {
		tctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("no answer within %v", limit))
		s := Take(tctx, c)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fn(s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DuplicatePublishers returns, for each stream that more than one client is
// publishing, the ids of those clients (keyed by the stream's URL,
// "/live/cam01", or its name when the server gives no URL). That is SRS's
// duplicate_accepted anomaly (docs/srs-behaviour.md, "Duplicate names").
//
// SRS lists a publisher from its publish command on, while its on_publish
// hook runs, so a contender that is about to be refused shows up here for
// as long as the hook takes. A duplicate counts as accepted only in a
// snapshot taken after both hooks answered (report's server view).
func DuplicatePublishers(s Snapshot) map[string][]string {
	by := map[string][]string{}
	for _, c := range s.Clients {
		if !c.Publishing() {
			continue
		}
		k := c.URL
		if k == "" {
			k = c.Name
		}
		by[k] = append(by[k], c.ID)
	}
	for k, ids := range by {
		if len(ids) < 2 {
			delete(by, k)
		}
	}
	return by
}

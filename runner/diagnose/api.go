package diagnose

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// pageCount is asked of every SRS list: its default page is small (10), and
// a partial list would hide streams and duplicates (srs-facts §5).
const pageCount = 1000

type apiVersions struct {
	Code int `json:"code"`
	Data struct {
		Version string `json:"version"`
	} `json:"data"`
}

type apiStreams struct {
	Code    int `json:"code"`
	Streams []struct {
		ID, Name, App, URL string
		Publish            struct {
			Active bool `json:"active"`
		} `json:"publish"`
	} `json:"streams"`
}

type apiClients struct {
	Code    int `json:"code"`
	Clients []struct {
		ID, Stream, IP, URL, Type string
		Publish                   bool `json:"publish"`
	} `json:"clients"`
}

// checkAPI asks SRS's HTTP API for its version, then its streams and
// publishing clients. It returns the checks and the server version ("" if
// unknown).
func checkAPI(ctx context.Context, cfg Config) ([]Check, string) {
	base := strings.TrimRight(cfg.API, "/")
	cli := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	ver := Check{Name: "SRS API " + base}
	var v apiVersions
	start := time.Now()
	err := getJSON(ctx, cli, base+"/api/v1/versions", &v)
	ver.Latency = time.Since(start)
	if err != nil {
		ver.Status = Fail
		ver.Detail = err.Error()
		ver.Fix = "enable the API in SRS's config (http_api { enabled on; listen 1985; }) or pass the right --api (or --api '' to skip it)"
		ver.cause = fmt.Sprintf("SRS's HTTP API at %s does not answer (%s): publishing may still work, but rtmpload cannot see the server's streams and clients.", base, err)
		return []Check{ver, {Name: "live streams", Status: Skip, Detail: "needs the API"}}, ""
	}
	ver.Status, ver.Detail = OK, "SRS "+v.Data.Version
	return []Check{ver, checkStreams(ctx, cli, base)}, v.Data.Version
}

func checkStreams(ctx context.Context, cli *http.Client, base string) Check {
	c := Check{Name: "live streams"}
	q := fmt.Sprintf("?start=0&count=%d", pageCount)
	var ss apiStreams
	var cs apiClients
	start := time.Now()
	if err := getJSON(ctx, cli, base+"/api/v1/streams/"+q, &ss); err != nil {
		c.Status, c.Detail = Warn, err.Error()
		return c
	}
	if err := getJSON(ctx, cli, base+"/api/v1/clients/"+q, &cs); err != nil {
		c.Status, c.Detail = Warn, err.Error()
		return c
	}
	c.Latency = time.Since(start)
	urls := map[string]string{}
	for _, s := range ss.Streams {
		urls[s.ID] = s.URL
	}
	publishers := map[string][]string{} // stream id -> client ids
	n := 0
	for _, cl := range cs.Clients {
		if cl.Publish || strings.HasSuffix(cl.Type, "-publish") {
			publishers[cl.Stream] = append(publishers[cl.Stream], cl.ID)
			n++
			if urls[cl.Stream] == "" {
				urls[cl.Stream] = cl.URL
			}
		}
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("%d streams, %d publishing clients", len(ss.Streams), n)
	if len(ss.Streams) >= pageCount || len(cs.Clients) >= pageCount {
		c.Detail += fmt.Sprintf(" (only the first %d were listed)", pageCount)
	}
	var dups []string
	for id, ids := range publishers {
		if len(ids) > 1 {
			slices.Sort(ids)
			dups = append(dups, fmt.Sprintf("%s has %d publishing clients (%s)", urls[id], len(ids), strings.Join(ids, ", ")))
		}
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		// A warning, not a failure: publishing works, but two encoders are
		// fighting over one name and only one of them is seen by viewers.
		c.Status = Warn
		c.Detail += "; duplicate publishers: " + strings.Join(dups, "; ") +
			": SRS accepted a second publisher of a live name (the race of SRS 7.0.x before 7.0.151, srs-facts §4)"
		c.Fix = "stop one of the two encoders, or kick a client with curl -X DELETE " + base + "/api/v1/clients/<id>; upgrade SRS to >= 7.0.151"
	}
	return c
}

// getJSON fetches one SRS API answer; SRS reports errors as a non-zero
// code with HTTP 200.
func getJSON(ctx context.Context, cli *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := cli.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %s", u, netProblem(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("GET %s: reading the answer: %s", u, netProblem(err))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d (is this SRS's API port?)", u, resp.StatusCode)
	}
	var env struct {
		Code *int `json:"code"`
	}
	if json.Unmarshal(body, &env) != nil || env.Code == nil {
		return fmt.Errorf("GET %s: not an SRS API answer (is this SRS's API port?)", u)
	}
	if *env.Code != 0 {
		return fmt.Errorf("GET %s: SRS error code %d", u, *env.Code)
	}
	return json.Unmarshal(body, v)
}

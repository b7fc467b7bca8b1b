package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/srsapi"
)

// checkAPI asks SRS's HTTP API for its version, then its streams and
// publishing clients (every page of them: SRS's default page is small, and
// a partial list would hide streams and duplicates, docs/srs-behaviour.md, "HTTP API"). It
// returns the checks and the server version ("" if unknown).
func checkAPI(ctx context.Context, cfg Config) ([]Check, string) {
	base := strings.TrimRight(cfg.API, "/")
	cli := &srsapi.Client{Base: base, HTTP: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}}
	ver := Check{Name: "SRS API " + base}
	start := time.Now()
	v, err := cli.Version(ctx)
	ver.Latency = time.Since(start)
	if err != nil {
		ver.Status = Fail
		ver.Detail = apiProblem(err)
		ver.Fix = "enable the API in SRS's config (http_api { enabled on; listen 1985; }) or pass the right --api (or --api '' to skip it)"
		ver.cause = fmt.Sprintf("SRS's HTTP API at %s does not answer (%s): publishing may still work, but rtmpload cannot see the server's streams and clients.", base, ver.Detail)
		return []Check{ver, {Name: "live streams", Status: Skip, Detail: "needs the API"}}, ""
	}
	ver.Status, ver.Detail = OK, "SRS "+v
	return []Check{ver, checkStreams(ctx, cli, base)}, v
}

// apiProblem says what an API error means in plain words.
func apiProblem(err error) string {
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return netProblem(err)
	}
	return err.Error() + " (is this SRS's API port?)"
}

func checkStreams(ctx context.Context, cli *srsapi.Client, base string) Check {
	c := Check{Name: "live streams"}
	start := time.Now()
	streams, err := cli.Streams(ctx)
	if err != nil {
		c.Status, c.Detail = Warn, apiProblem(err)
		return c
	}
	clients, err := cli.Clients(ctx)
	if err != nil {
		c.Status, c.Detail = Warn, apiProblem(err)
		return c
	}
	c.Latency = time.Since(start)
	urls := map[string]string{}
	for _, s := range streams {
		urls[s.ID] = s.URL
	}
	publishers := map[string][]string{} // stream id -> client ids
	n := 0
	for _, cl := range clients {
		if cl.Publishing() {
			publishers[cl.Stream] = append(publishers[cl.Stream], cl.ID)
			n++
			if urls[cl.Stream] == "" {
				urls[cl.Stream] = cl.URL
			}
		}
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("%d streams, %d publishing clients", len(streams), n)
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
			": either SRS accepted a second publisher of a live name (SRS 7.0.x's race: its 3 s source cleanup during the first one's on_publish hook; docs/srs-behaviour.md, \"Duplicate names\") or the second is still waiting for its on_publish hook and will be refused (SRS lists it meanwhile); if it is still there after the hook's latency, it was accepted"
		c.Fix = "if it stays: stop one of the two encoders, or kick a client with curl -X DELETE " + base + "/api/v1/clients/<id>; a newer SRS release fixes the race"
	}
	return c
}

package srsapi

import (
	"slices"
	"strings"

	"github.com/rtmpload/rtmpload/schema"
)

// Record is the results stream's record of the snapshot: each stream with
// the ids of the clients publishing it, and, after them, the publishing
// clients of streams the stream list does not show (SRS's duplicate-accept
// state shows one stream and two clients).
func (s Snapshot) Record() *schema.Snapshot {
	out := &schema.Snapshot{Err: s.Err}
	pubs := make(map[string][]string)
	for _, c := range s.Clients {
		if c.Publishing() {
			pubs[c.URL] = append(pubs[c.URL], c.ID)
		}
	}
	for _, st := range s.Streams {
		key := st.URL
		if key == "" {
			key = "/" + st.App + "/" + st.Name
		}
		out.Streams = append(out.Streams, schema.SnapStream{
			Name: st.Name, App: st.App, Clients: st.Clients, Publishers: pubs[key],
		})
		delete(pubs, key)
	}
	keys := make([]string, 0, len(pubs))
	for k := range pubs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		app, name, _ := strings.Cut(strings.TrimPrefix(k, "/"), "/")
		out.Streams = append(out.Streams, schema.SnapStream{Name: name, App: app, Publishers: pubs[k]})
	}
	return out
}

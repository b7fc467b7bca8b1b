package srsapi

import (
	"reflect"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// A snapshot's record keeps, per stream, who publishes it; publishers of a
// stream the list does not show come after, sorted (SRS's duplicate-accept
// state: one stream, two publishing clients, one of them on no stream).
func TestSnapshotRecord(t *testing.T) {
	s := Snapshot{
		Streams: []srs.Stream{{Name: "a", App: "live", URL: "/live/a", Clients: 2}, {Name: "b", App: "live"}},
		Clients: []srs.Client{
			{ID: "1", URL: "/live/a", Type: "fmle-publish"},
			{ID: "2", URL: "/live/a", Type: "rtmp-play"},
			{ID: "3", URL: "/live/c", Publish: true},
			{ID: "4", URL: "/live/b", Type: "fmle-publish"},
		},
	}
	want := &schema.Snapshot{Streams: []schema.SnapStream{
		{Name: "a", App: "live", Clients: 2, Publishers: []string{"1"}},
		{Name: "b", App: "live", Publishers: []string{"4"}},
		{Name: "c", App: "live", Publishers: []string{"3"}},
	}}
	if got := s.Record(); !reflect.DeepEqual(got, want) {
		t.Errorf("record %+v\nwant %+v", got, want)
	}
}

package srs

import (
	"encoding/json"
	"testing"
)

// The body's keys come in SRS's order (docs/srs-behaviour.md, "Hook
// request"); callback services and tests compare it byte for byte.
func TestHookRequestKeyOrder(t *testing.T) {
	b, err := json.Marshal(HookRequest{
		ServerID: "vid-1", ServiceID: "s", Action: "on_publish", ClientID: "c1", IP: "127.0.0.1",
		Vhost: DefaultVhost, App: "live", TcURL: "rtmp://127.0.0.1:19350/live", Stream: "cam01",
		Param: "?rtmpload=r-1", StreamURL: "/live/cam01", StreamID: "vid-2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"server_id":"vid-1","service_id":"s","action":"on_publish","client_id":"c1","ip":"127.0.0.1",` +
		`"vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://127.0.0.1:19350/live","stream":"cam01",` +
		`"param":"?rtmpload=r-1","stream_url":"/live/cam01","stream_id":"vid-2"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// The seed's callback service answers {"code":0,"msg":null}.
func TestHookAnswerAllow(t *testing.T) {
	b, _ := json.Marshal(HookAnswer{})
	if string(b) != `{"code":0,"msg":null}` {
		t.Fatalf("got %s", b)
	}
}

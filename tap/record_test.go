package tap

import (
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// The results stream names the tap's phases; readers (the report, the live
// figures) know them by schema's names, so the two must not drift apart.
func TestPhasesAreSchemaWords(t *testing.T) {
	for tap, word := range map[Phase]string{
		TCPConnect: schema.WireTCPConnect, C0C1: schema.WireC0C1, S0S1S2: schema.WireS0S1S2,
		Connect: schema.WireConnect, ConnectResult: schema.WireConnectResult, Publish: schema.WirePublish,
		OnStatus: schema.WireOnStatus, FirstAudio: schema.WireFirstAudio, FirstVideo: schema.WireFirstVideo,
		ServerClose: schema.WireServerClose, ClientClose: schema.WireClientClose, Unparsed: schema.WireUnparsed,
	} {
		if string(tap) != word {
			t.Errorf("tap phase %q is %q in the results schema", tap, word)
		}
	}
	at := time.Unix(100, 0)
	c := &Conn{ID: 7, Attempt: "r-1", Stream: "cam", BytesUp: 10, BytesDown: 20,
		Marks: []Mark{{Phase: Publish, At: at}, {Phase: OnStatus, At: at.Add(time.Millisecond), Detail: schema.PublishStartCode}}}
	w := c.Record()
	if got, ok := w.PublishStarted(); !ok || !got.Equal(at.Add(time.Millisecond)) || w.Conn != 7 || w.BytesDown != 20 {
		t.Errorf("record %+v", w)
	}
}

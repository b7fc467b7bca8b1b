package hook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// A body sent a byte at a time is cut off: the connection is not held.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := start(t, Config{bodyTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", OnPublishPath)
	// A generous bound: without a body timeout the server waits forever.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	// The server closes the connection: no answer, an end of file.
	if _, err := bufio.NewReader(conn).ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("a dripped body is still held: %v", err)
	}
	if c := call(t, s, 1); !c.Canceled || !strings.Contains(c.Reason, "body not read") || !strings.Contains(c.Reason, "timeout") {
		t.Errorf("recorded %+v", c)
	}
}

// A field longer than any server sends is refused, and not kept.
func TestLongFieldsAreRefused(t *testing.T) {
	s := start(t, Config{})
	long := strings.Repeat("x", maxField+1)
	for _, body := range []string{
		srsCall(string(schema.ActionPublish), "1", long, "?rtmpload=a"),
		srsCall(string(schema.ActionPublish), "1", "cam", "?k="+long),
	} {
		if r := post(t, s.OnPublishURL(), body); r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d for a %d-byte field", r.status, len(long))
		}
	}
	for _, c := range waitCalls(t, s, 2) {
		if c.size() > 2*maxField {
			t.Errorf("call %d keeps %d bytes", c.Seq, c.size())
		}
	}
	if r := post(t, s.OnPublishURL(), strings.Repeat(" ", maxBody+1)+srsCall(string(schema.ActionPublish), "1", "cam", "")); r.status != http.StatusBadRequest {
		t.Errorf("status %d for a body over %d bytes", r.status, maxBody)
	}
}

// The call log is bounded in bytes as well as in calls.
func TestCallLogBoundedInBytes(t *testing.T) {
	s := &Server{}
	big := strings.Repeat("p", 1<<20)
	for i := range 100 {
		s.finish(Call{Seq: int64(i + 1), Param: big})
		if s.callBytes > keptCallBytes {
			t.Fatalf("after %d calls of 1 MB the log holds %d bytes (bound %d)", i+1, s.callBytes, keptCallBytes)
		}
	}
	if calls := s.Calls(); len(calls) == 0 || calls[len(calls)-1].Seq != 100 {
		t.Errorf("the latest call is not kept")
	}
}

// The live-name map is bounded: a caller inventing names is refused once it
// is full, and a name already live is still judged as before.
func TestLiveNamesBounded(t *testing.T) {
	s := &Server{mode: schema.HookAllow, live: make(map[string]string)}
	for i := range maxLive {
		s.live[fmt.Sprint(i)] = "c"
	}
	ans := s.book(request{Dialect: DialectSRS, Action: schema.ActionPublish, ClientID: "9", App: "live", Stream: "one-more"}, nil)
	if ans.verdict != VerdictDeny || !strings.Contains(ans.reason, "full") || len(s.live) != maxLive {
		t.Errorf("verdict %s (%s) with %d live names", ans.verdict, ans.reason, len(s.live))
	}
}

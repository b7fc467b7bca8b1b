package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rtmpload/rtmpload/schema"
	"github.com/rtmpload/rtmpload/srs"
)

// srsBody is SRS's hook body (docs/srs-behaviour.md, "Hook request"). Fields
// rtmpload does not use are left out; unknown fields are ignored because SRS
// versions add some.
type srsBody struct {
	Action   schema.HookAction `json:"action"`
	ClientID flexID            `json:"client_id"`
	IP       string            `json:"ip"`
	Vhost    string            `json:"vhost"`
	App      string            `json:"app"`
	TcURL    string            `json:"tcUrl"`
	Stream   string            `json:"stream"`
	Param    string            `json:"param"`
	StreamID string            `json:"stream_id"`
}

// flexID accepts client_id as a string (SRS 4 and later) or a number
// (SRS 3), so one hook serves both.
type flexID string

func (id *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("client_id is neither a string nor a number: %s", b)
	}
	*id = flexID(n)
	return nil
}

// reply is the body of an SRS-dialect answer (srs.HookAnswer): code 0
// allows, anything else refuses.
func reply(code int, msg string) string {
	r := srs.HookAnswer{Code: code}
	if msg != "" {
		r.Msg = &msg
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // an int and a string always marshal
	}
	return string(b)
}

// readSRS parses an SRS hook call.
func readSRS(method string, body []byte, readErr error) (request, *requestError) {
	if rerr := checkRead(method, readErr); rerr != nil {
		return request{}, rerr
	}
	if len(body) == 0 {
		return request{}, &requestError{http.StatusBadRequest, "empty body: want SRS hook JSON"}
	}
	var b srsBody
	if err := json.Unmarshal(body, &b); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return request{}, &requestError{http.StatusBadRequest, "body is not JSON: " + err.Error()}
		}
		return request{}, &requestError{http.StatusBadRequest, "body is not an SRS hook object: " + err.Error()}
	}
	req := request{
		Dialect: DialectSRS, Action: b.Action, ClientID: string(b.ClientID), IP: b.IP,
		Vhost: b.Vhost, App: b.App, Stream: b.Stream,
		Param: b.Param, TcURL: b.TcURL, StreamID: b.StreamID,
	}
	switch {
	case req.Action == "":
		return request{}, &requestError{http.StatusBadRequest, "body has no action: want SRS hook JSON"}
	case (req.Action == schema.ActionPublish || req.Action == schema.ActionUnpublish ||
		req.Action == schema.ActionPlay || req.Action == schema.ActionStop) && req.Stream == "":
		return req, &requestError{http.StatusBadRequest, string(req.Action) + " without a stream"}
	}
	return req, nil
}

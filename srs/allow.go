package srs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Verdict is how SRS takes a callback's answer to on_publish.
type Verdict string

// Verdicts of JudgeAnswer.
const (
	// Allow: SRS lets the publish go on.
	Allow Verdict = "allow"
	// Deny: a 2xx that names a non-zero integer code, the callback's
	// deliberate no ({"code":1}, or the bare number 1 of SRS's older hook
	// format).
	Deny Verdict = "deny"
	// BadAnswer: a 2xx whose body is not in SRS's format at all
	// ({"status":"ok"}, "ok", an empty body, {"code":"0"}, "0\n"): the
	// callback speaks another server's dialect. SRS refuses it too.
	BadAnswer Verdict = "bad_answer"
	// ErrorStatus: any HTTP status but 200 and 201.
	ErrorStatus Verdict = "error"
)

// SRS's error codes for a refused hook answer, as its log prints them
// (srs_kernel_error.hpp).
const (
	ErrHTTPDataInvalid   = 3008 // HttpResponseData: empty, not JSON, or a bare number that is not "0"
	ErrResponseCode      = 3064 // HttpResponseCode: an object without an integer code, or a non-zero code
	ErrHTTPStatusInvalid = 4005 // HttpStatus: not 200 or 201
)

// Judgement is SRS's verdict on one answer and the error it logs.
type Judgement struct {
	Verdict Verdict
	Code    int    // SRS's error code; 0 when allowed
	Detail  string // SRS's own log message, without the body
}

// JudgeAnswer is SRS's rule for a callback answer (SrsHttpHooks::do_post,
// SRS 5 to 7; docs/srs-behaviour.md, "What SRS accepts as allow"):
//
//   - The status must be 200 or 201, else ErrorStatus (4005). A 204 never
//     gets that far on SRS 7.0.18: its HTTP client waits for a body until
//     the hook timeout (1011 SocketTimeout after 30 s; the embedded server
//     waits the same), so the publish fails late.
//   - An empty body is refused (3008), and so is a body that is not JSON
//     (3008). A UTF-8 byte order mark is skipped before parsing.
//   - A JSON value that is not an object allows only when the whole body
//     is the one byte "0". "0\n", " 0", -0 and the string "0" (quoted) are
//     refused (3008), as are 1, true, null and [0].
//   - A JSON object allows when its last "code" member is a JSON integer
//     equal to 0 ({"code":0}, {"code":-0}, {"code":0,"msg":"x"}, with any
//     whitespace around). {"code":"0"}, {"code":0.0}, {"code":0e0},
//     {"code":null} and an object without code are refused as having no
//     code (3064); a non-zero integer code is refused with its code (3064).
//     Of duplicate "code" members the last counts, as in SRS (its object
//     replaces a key on each repeat; seen on 7.0.18: {"code":0,"code":1} is
//     refused with code 1).
//
// Of the refusals, a non-zero integer code (in an object, or as the bare
// body with or without whitespace) is Deny; every other 2xx is BadAnswer.
// An integer code too big for int64 counts as non-zero (SRS's parser
// wraps it; not worth imitating). Go's JSON parser stands in for SRS's
// json-parser: they differ only on malformed input neither accepts alike.
func JudgeAnswer(status int, body []byte) Judgement {
	if status != 200 && status != 201 {
		return Judgement{ErrorStatus, ErrHTTPStatusInvalid, fmt.Sprintf("http: status %d", status)}
	}
	if len(body) == 0 {
		return Judgement{BadAnswer, ErrHTTPDataInvalid, "http: empty response"}
	}
	doc := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !json.Valid(doc) {
		return Judgement{BadAnswer, ErrHTTPDataInvalid, "http: not json"}
	}
	doc = bytes.TrimSpace(doc)
	if doc[0] != '{' {
		if string(body) == "0" {
			return Judgement{Allow, 0, ""}
		}
		if n, ok := integer(doc); ok && n != "0" && n != "-0" {
			return Judgement{Deny, ErrHTTPDataInvalid, "http: response number code " + n}
		}
		return Judgement{BadAnswer, ErrHTTPDataInvalid, "http: response number code"}
	}
	code, ok := lastMember(doc, "code")
	if !ok {
		return Judgement{BadAnswer, ErrResponseCode, "http: response object no code"}
	}
	n, ok := integer(code)
	if !ok {
		return Judgement{BadAnswer, ErrResponseCode, "http: response object no code"}
	}
	if v, err := strconv.ParseInt(n, 10, 64); err == nil && v == 0 {
		return Judgement{Allow, 0, ""}
	}
	return Judgement{Deny, ErrResponseCode, "http: response object code " + n}
}

// Allows reports whether SRS takes the answer as allowing the publish.
func Allows(status int, body []byte) bool { return JudgeAnswer(status, body).Verdict == Allow }

// integer returns b as a JSON integer (digits with an optional minus, no
// fraction or exponent), which is what SRS's parser calls an integer.
func integer(b []byte) (string, bool) {
	s := string(bytes.TrimSpace(b))
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return "", false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return s, true
}

// lastMember returns the raw value of the last member named key of a
// valid JSON object.
func lastMember(obj []byte, key string) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var found json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if name, _ := t.(string); name == key {
			found = v
		}
	}
	return found, found != nil
}

// MaxQuoted bounds the bytes of a body that QuoteBody shows.
const MaxQuoted = 80

// QuoteBody quotes an answer's body for evidence and messages: at most
// MaxQuoted bytes of it (cut on a character boundary, with the full length
// when cut), in backquotes when it has no backquote or control character,
// else Go-escaped in double quotes. An empty body is "an empty body".
func QuoteBody(body string) string {
	if body == "" {
		return "an empty body"
	}
	shown, more := body, ""
	if len(body) > MaxQuoted {
		cut := MaxQuoted
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		shown, more = body[:cut], fmt.Sprintf("... (%d bytes)", len(body))
	}
	if strconv.CanBackquote(shown) {
		return "`" + shown + "`" + more
	}
	return strconv.Quote(shown) + more
}

// AllowRule is the rule in a sentence, for messages.
const AllowRule = `SRS allows only 0 or {"code":0}`

package scenarios

import (
	"fmt"
	"net/url"
	"strings"
)

// MaxParamLen bounds a group's param once expanded: a publish URL is one
// command-line argument of ffmpeg and one field of the server's callback.
const MaxParamLen = 2048

// compileParam compiles a group's param: the publish URL's own query
// (publish tokens, signatures), name=value pairs joined by '&', with the
// name pattern's placeholders ({i}, {i:03}, {i%k}, {i%k:03}) anywhere.
// rtmpload adds its own rtmpload=<id> after it, so that name is reserved.
func compileParam(param string) (namePattern, error) {
	if strings.HasPrefix(param, "?") {
		return nil, fmt.Errorf("param %q: write the query without its leading '?', as in \"token=t{i}\"", param)
	}
	p, err := compileWith(param, checkQueryLiteral)
	if err != nil {
		return nil, err
	}
	// Placeholders expand to digits only, so the pairs of one expansion
	// are the pairs of every other.
	q := p.expand(0)
	if len(q) > MaxParamLen {
		return nil, fmt.Errorf("param %q is longer than %d characters", shorten(param), MaxParamLen)
	}
	for pair := range strings.SplitSeq(q, "&") {
		k, v, ok := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(k)
		_, verr := url.QueryUnescape(v)
		switch {
		case !ok || k == "":
			return nil, fmt.Errorf("param %q: %q is not name=value (want pairs such as token=t{i}&sign=x joined by '&')", param, pair)
		case kerr != nil || verr != nil:
			return nil, fmt.Errorf("param %q: %q has a malformed %%-escape", param, pair)
		case name == "rtmpload":
			return nil, fmt.Errorf("param %q: rtmpload is the name rtmpload gives each attempt's id; use another name", param)
		}
	}
	return p, nil
}

// checkQueryLiteral keeps a param to the characters a URL query carries
// as they are (RFC 3986), so the server's callback sees what was written.
func checkQueryLiteral(pattern, lit string) error {
	for _, r := range lit {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-._~!$&'()*+,;=:@/%", r)
		if !ok {
			return fmt.Errorf("param %q: character %q cannot stand in a URL query as it is (%%-escape it, as in %%20 for a space)", pattern, r)
		}
	}
	return nil
}

func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}

// ParamOf returns the publish URL's own query of a slot: its group's param
// expanded for the slot's index, "" when the group has none.
func (s *Scenario) ParamOf(slot Slot) string {
	for _, g := range s.Publishers {
		if g.Group != slot.Group || g.Param == "" {
			continue
		}
		p, err := compileParam(g.Param)
		if err != nil {
			return "" // only in a scenario that fails Validate
		}
		return p.expand(slot.Index)
	}
	return ""
}

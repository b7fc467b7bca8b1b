package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
)

// Mask replaces a secret in every output.
const Mask = "***"

// RedactPolicy says what the outputs of this process hide.
type RedactPolicy struct {
	// Show turns redaction off: a private debugging run (--show-secrets).
	Show bool
	// Names are further query parameter names whose values are secret
	// (--redact NAME), compared without regard to case.
	Names []string
}

// policy is process-wide on purpose: secrets leave through every output
// (the results writer and reader, the terminal, slog lines, error messages,
// the hook's call log), most of them deep in packages that know nothing of
// flags. cmd sets the policy once, right after parsing the flags of a
// command, and this is the only place it is kept; threading it through
// every constructor instead would let one forgotten path print a token.
var policy atomic.Pointer[RedactPolicy]

// SetRedactPolicy sets what every output of the process hides from now on.
// cmd calls it once per command; the zero policy (the default) redacts.
func SetRedactPolicy(p RedactPolicy) {
	p.Names = append([]string(nil), p.Names...)
	for i, n := range p.Names {
		p.Names[i] = strings.ToLower(percentDecode(n))
	}
	policy.Store(&p)
}

func currentPolicy() *RedactPolicy {
	if p := policy.Load(); p != nil {
		return p
	}
	return &RedactPolicy{}
}

// URL is a URL that may carry secrets: a password in its userinfo, a
// token in its query. It prints itself redacted (String, JSON, text), so a
// URL kept in this type cannot leak through a log line or an encoder; Raw
// is what goes to the server or to ffmpeg.
type URL string

// Raw returns the URL as given, secrets included.
func (u URL) Raw() string { return string(u) }

// String returns the URL with its secrets replaced by Mask.
func (u URL) String() string { return Redact(string(u)) }

// MarshalText encodes the redacted URL (JSON uses it too).
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// IsSecretName reports whether a query parameter (or form field) of this
// name carries a secret: publish tokens and signatures as SRS deployments
// and CDNs name them (token, sign, txSecret, wsSecret, auth_key, ...),
// credentials, plus the names the user added (RedactPolicy.Names). A name
// is compared after percent-decoding, as the server decodes it: to%6Ben is
// token.
func IsSecretName(name string) bool {
	n := strings.ToLower(percentDecode(name))
	for _, extra := range currentPolicy().Names {
		if n == extra {
			return true
		}
	}
	// Separators vary between services (auth_key, auth-key, authKey).
	if strings.ContainsAny(n, "_-.") {
		b := make([]byte, 0, len(n))
		for i := 0; i < len(n); i++ {
			if c := n[i]; c != '_' && c != '-' && c != '.' {
				b = append(b, c)
			}
		}
		n = string(b)
	}
	if secretExact[n] {
		return true
	}
	for _, s := range secretContains {
		if strings.Contains(n, s) {
			return true
		}
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// Short names are secret only as whole names (or suffixes, below): as
// substrings they are too common ("keyint", "signal", "passthrough").
// md5 is nginx's secure_link signature.
var secretExact = map[string]bool{
	"key": true, "sign": true, "sig": true, "auth": true, "pass": true, "pwd": true,
	"jwt": true, "md5": true, "hmac": true, "otp": true,
	"hdnts": true, "hdnea": true, "hdntl": true, // Akamai token auth
	"hash": true, "t": true, // CDN signatures (secure links: ?t=EXPIRY-SIG, ?hash=HMAC)
}

// percentDecode decodes the %XX escapes of a query name, as a server's query
// parser does, and again while one decoding leaves another (to%256Ben);
// a '%' that starts no escape is kept.
func percentDecode(s string) string {
	for range 4 {
		if !strings.Contains(s, "%") {
			return s
		}
		var b strings.Builder
		changed := false
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				changed = true
				continue
			}
			b.WriteByte(s[i])
		}
		if !changed {
			return s
		}
		s = b.String()
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// Long names are secret wherever they occur: token, access_token,
// x-amz-security-token; txSecret (Tencent), wsSecret (Wangsu), hwSecret;
// X-Amz-Signature, X-Amz-Credential; password, passwd; sessionid.
var secretContains = []string{
	"token", "secret", "passw", "credential", "signature", "session",
	"authoriz", "apikey", "authkey", "accesskey", "privatekey", "jwt",
}

// Suffixes: auth_key, api_key, stream_key, wsSign, txSign, urlsig,
// hwpass, user_pwd, oauth.
var secretSuffixes = []string{"key", "sign", "sig", "pwd", "pass", "auth"}

var (
	// userinfoRE finds scheme://user:password@, or //user:password@ in a
	// mistyped URL (the password may itself hold an '@': the greedy class
	// runs to the authority's last one).
	userinfoRE = regexp.MustCompile(`((?:[A-Za-z][A-Za-z0-9+.\-]*:)?//)([^\s/?#@:"'<>\\]*):([^\s/?#"'<>\\]*)@`)
	// pairRE finds name=value pairs of a query or form. A value ends at the
	// next separator ('&', and '|' between the tee muxer's outputs), at
	// white space or quotes, at a JSON escape "\u..." or "\"" (so "\u0026"
	// ends it, as '&' would) but not at another backslash escape (the tee
	// muxer's "\'"), and at '?' or '=' (so "url=rtmp://h/a/b?token=T", a log
	// field holding a URL, is two pairs).
	// A name may follow a JSON-escaped '&' ("\u0026"): the escape is not
	// part of it. A name may be percent-encoded (to%6Ben is token).
	pairRE = regexp.MustCompile(`(\\u0026)?([A-Za-z0-9_.%\-\[\]]+)=((?:[^\\&\s"'<>;,#)?=|]|\\[^u"])*)`)
)

// Redact replaces the secrets in s with Mask: the password of every URL's
// userinfo and the value of every name=value pair whose name is secret
// (IsSecretName), wherever they stand: whole URLs, bare queries ("?token=..."
// as an SRS hook's param), ffmpeg's stderr, error messages. The rest of s is
// unchanged. Under RedactPolicy.Show it returns s as is.
func Redact(s string) string {
	if currentPolicy().Show || (!strings.Contains(s, "@") && !strings.Contains(s, "=")) {
		return s
	}
	if strings.Contains(s, "@") {
		s = replaceSubmatches(userinfoRE, s, func(m []string) string {
			if m[3] == "" {
				return m[0]
			}
			return m[1] + m[2] + ":" + Mask + "@"
		})
	}
	if strings.Contains(s, "=") {
		s = replaceSubmatches(pairRE, s, func(m []string) string {
			if m[3] == "" || m[3] == Mask || !IsSecretName(pairName(m[2])) {
				return m[0]
			}
			return m[1] + m[2] + "=" + Mask
		})
	}
	return s
}

// pairName is the query name in what pairRE took for one: an opening '['
// that no ']' closes is not part of a name (token[0]= and auth[key]= are
// names; "--show-secrets[=true|false]", a flag's usage, holds none).
func pairName(s string) string {
	if i := strings.LastIndexByte(s, '['); i >= 0 && !strings.Contains(s[i:], "]") {
		return s[i+1:]
	}
	return s
}

// replaceSubmatches replaces every match of re in s with what fn returns
// for its submatches (m[0] is the whole match), in one pass.
func replaceSubmatches(re *regexp.Regexp, s string, fn func(m []string) string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	m := make([]string, re.NumSubexp()+1)
	for _, loc := range idx {
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = s[loc[2*i]:loc[2*i+1]]
			} else {
				m[i] = ""
			}
		}
		b.WriteString(s[last:loc[0]])
		b.WriteString(fn(m))
		last = loc[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// RedactJSON redacts every string of a JSON document (one results line, one
// call-log line) with Redact, whatever field it is in, and returns the
// document otherwise byte for byte. Input that is not JSON is returned as it
// came, except for strings that are whole.
func RedactJSON(doc []byte) []byte {
	if currentPolicy().Show || (!bytes.ContainsAny(doc, "@=")) {
		return doc
	}
	var out []byte
	last := 0
	for i := 0; i < len(doc); i++ {
		if doc[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(doc) && doc[j] != '"' {
			if doc[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(doc) {
			break
		}
		tok := doc[i : j+1]
		if bytes.ContainsAny(tok, "@=") {
			var s string
			if json.Unmarshal(tok, &s) == nil {
				if r := Redact(s); r != s {
					enc, _ := json.Marshal(r)
					out = append(out, doc[last:i]...)
					out = append(out, enc...)
					last = j + 1
				}
			}
		}
		i = j
	}
	if out == nil {
		return doc
	}
	return append(out, doc[last:]...)
}

// RedactWriter returns a writer that redacts each write to w (a terminal,
// a log): every write is taken as whole text, as the command's lines,
// slog records and tables are written. Unwrap returns w. A nil w stays nil.
func RedactWriter(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &redactWriter{w: w}
}

type redactWriter struct{ w io.Writer }

func (r *redactWriter) Write(p []byte) (int, error) {
	if currentPolicy().Show || !bytes.ContainsAny(p, "@=") {
		return r.w.Write(p)
	}
	q := Redact(string(p))
	if _, err := io.WriteString(r.w, q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap returns the writer underneath (to ask whether it is a terminal).
func (r *redactWriter) Unwrap() io.Writer { return r.w }

// RedactFile rewrites a text file (a server's log kept beside the results)
// with Redact applied to each line. The file is replaced, by rename, only
// when something was redacted.
func RedactFile(path string) error {
	if currentPolicy().Show {
		return nil
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".redact-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: gone already
	bw := bufio.NewWriterSize(tmp, 64<<10)
	br := bufio.NewReaderSize(in, 64<<10)
	changed := false
	for {
		line, rerr := br.ReadString('\n')
		if r := Redact(line); r != line {
			line, changed = r, true
		}
		if _, err := bw.WriteString(line); err != nil {
			tmp.Close()
			return err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			tmp.Close()
			return rerr
		}
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil || !changed {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// reachResult is what resolving and connecting to one host:port found.
type reachResult struct {
	conn    net.Conn
	ip      string
	dns     time.Duration // zero when host is an IP address
	connect time.Duration
	// failed is which step failed ("dns" or "tcp"), with err.
	failed string
	err    error
}

// steps describes the timings so far, e.g. "DNS 1.2ms -> 10.0.0.5, TCP 0.3ms".
func (r reachResult) steps() string {
	var parts []string
	if r.dns > 0 {
		parts = append(parts, fmt.Sprintf("DNS %s -> %s", roundDur(r.dns), r.ip))
	}
	if r.connect > 0 {
		parts = append(parts, fmt.Sprintf("TCP connect %s", roundDur(r.connect)))
	}
	return strings.Join(parts, ", ")
}

// reach resolves host and connects to it, timing each step separately so a
// failure names the step (a DNS failure and a closed port need different
// fixes).
func reach(ctx context.Context, host, port string, timeout time.Duration) reachResult {
	var r reachResult
	ip := host
	if _, err := netip.ParseAddr(host); err != nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		r.dns = max(time.Since(start), time.Nanosecond)
		cancel()
		if err != nil {
			r.failed, r.err = "dns", err
			return r
		}
		ip = addrs[0]
	}
	r.ip = ip
	d := net.Dialer{Timeout: timeout}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
	if err != nil {
		r.failed, r.err = "tcp", err
		return r
	}
	r.connect = max(time.Since(start), time.Nanosecond)
	r.conn = conn
	return r
}

// netProblem says in plain words what a network error means.
func netProblem(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "the host name does not resolve"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed: " + dnsErr.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused the connection"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "is not reachable (no route)"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "did not answer in time (a firewall dropping packets, or a hung server)"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset the connection"
	}
	return err.Error()
}

// refused reports whether err is a refused TCP connection: nothing listens.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

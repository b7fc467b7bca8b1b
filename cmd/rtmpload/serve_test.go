package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeAddressesAPIAndCleanStop(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}, nil, pw, &stderr)
		pw.Close()
		done <- code
	}()
	// The addresses are read in the background so that a serve that never
	// prints them fails the test instead of hanging it.
	addrs := make(chan [2]string, 1)
	go func() {
		var a [2]string
		sc := bufio.NewScanner(pr)
		for (a[0] == "" || a[1] == "") && sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "rtmp "); ok {
				a[0] = v
			}
			if v, ok := strings.CutPrefix(sc.Text(), "api "); ok {
				a[1] = v
			}
		}
		addrs <- a
		io.Copy(io.Discard, pr)
	}()
	var rtmpURL, apiURL string
	select {
	case a := <-addrs:
		rtmpURL, apiURL = a[0], a[1]
	case <-time.After(10 * time.Second):
		t.Fatal("serve printed no addresses within 10 s")
	}
	if !strings.HasPrefix(rtmpURL, "rtmp://127.0.0.1:") || !strings.HasSuffix(rtmpURL, "/live") || !strings.HasPrefix(apiURL, "http://127.0.0.1:") {
		t.Fatalf("addresses: rtmp %q api %q", rtmpURL, apiURL)
	}

	cli := &http.Client{Timeout: 5 * time.Second}
	resp, err := cli.Get(apiURL + "/api/v1/versions")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"code":0`) {
		t.Errorf("versions: %d %s", resp.StatusCode, body)
	}
	rtmpAddr := strings.TrimSuffix(strings.TrimPrefix(rtmpURL, "rtmp://"), "/live")
	c, err := net.DialTimeout("tcp", rtmpAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("RTMP port: %v", err)
	}
	c.Close()

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after cancel\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of cancel")
	}
	if _, err := net.DialTimeout("tcp", rtmpAddr, time.Second); err == nil {
		t.Error("the RTMP port still accepts after serve returned")
	}
}

func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, flag := range []string{"--listen", "--api-listen"} {
		var stdout, stderr bytes.Buffer
		args := []string{"serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", flag, ln.Addr().String()}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		code := run(ctx, args, nil, &stdout, &stderr)
		cancel()
		msg := stderr.String()
		if code != exitSetup || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "address already in use") || !strings.Contains(msg, ln.Addr().String()) {
			t.Errorf("%s busy: exit %d, stderr %q", flag, code, msg)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s busy: printed addresses %q", flag, stdout.String())
		}
	}
}

func TestServeRejectsArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"serve", "extra"}, nil, &stdout, &stderr); code != exitSetup {
		t.Errorf("extra argument: exit %d", code)
	}
	// 0 would be the server's default, 30 s, without a word.
	for _, d := range []string{"0", "-1s"} {
		stderr.Reset()
		code := run(t.Context(), []string{"serve", "--hook-timeout", d, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}, nil, &stdout, &stderr)
		if code != exitSetup || !strings.Contains(stderr.String(), "--hook-timeout") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("--hook-timeout %s: exit %d\n%s", d, code, stderr.String())
		}
	}
}

// --http-flv-listen adds a third address line, where players get HTTP-FLV.
func TestServeHTTPFLVAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--http-flv-listen", "127.0.0.1:0"}, nil, pw, &stderr)
		pw.Close()
		done <- code
	}()
	defer func() {
		cancel()
		<-done
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "http-flv "); ok {
				line <- v
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-line:
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/live") {
			t.Fatalf("http-flv line %q", u)
		}
		c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/live"), 5*time.Second)
		if err != nil {
			t.Fatalf("HTTP-FLV port: %v", err)
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatalf("no http-flv line within 10 s\n%s", stderr.String())
	}
}

package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// A request to the API whose body drips in is cut off, not held.
func TestAPISlowBodyIsCutOff(t *testing.T) {
	srv, err := Start(t.Context(), Config{apiReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.APIAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/streams HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
	// A generous bound: without a read timeout the server waits forever.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.Copy(io.Discard, bufio.NewReader(conn))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still held: %v", err)
	}
}
